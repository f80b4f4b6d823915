/* The pipeline built up stage by stage, for bench:instructions to tell what each stage costs:
 *   --stage listen     listen(), each socket emitted on the http.Server by hand
 *   --stage errors     + handleErrors()
 *   --stage limit      + backpressure(limit)
 *   --stage serve      + serve(), the socket emitted by hand (no keep-alive tracking)
 * (`pipeline.js` is the last stage: serve(handTo(http)).) */
import { identity, map, type Observable, type OperatorFunction } from 'rxjs';
import { backpressure, handleErrors, listen, serve, type Accepted, type AcceptResult } from '../../src';
import { args, http, limit, port, ready } from './common';

const STAGES = ['listen', 'errors', 'limit', 'serve'];
const stage = args.stage ?? '';
const depth = STAGES.indexOf(stage);
if (depth < 0) {
  console.error(`stages: --stage must be one of ${STAGES.join(', ')}, got ${JSON.stringify(stage)}`);
  process.exit(2);
}
const upTo = <A, B>(at: number, operator: OperatorFunction<A, B>): OperatorFunction<A, B> => (depth >= at ? operator : (identity as never));
const emit = ({ socket }: Accepted): void => void http.emit('connection', socket);

http.emit('listening'); // start http's request-timeout checks, as handTo does
const results: Observable<AcceptResult> = listen({ host: '127.0.0.1', port, onListening: ready, server: { allowHalfOpen: true, noDelay: true } });
results
  .pipe(
    upTo(1, handleErrors()),
    upTo(2, backpressure(limit)),
    depth >= 3 ? serve(emit) : map((result) => (result.type === 'connection' ? emit(result) : undefined)),
  )
  .subscribe();
