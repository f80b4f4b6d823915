// Compiles src/ and demo/ once before the suite: the integration spec runs the demo in a
// child process (under `ulimit -n`), where ts-jest cannot help.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function build() {
  const root = path.join(__dirname, '..', '..');
  // dist/ first: the compiled demo imports the package by its name, which Node resolves there.
  execFileSync('npm', ['run', '--silent', 'build:lib'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
};
