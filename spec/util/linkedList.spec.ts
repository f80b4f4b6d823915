import { LinkedList, type Links } from '../../src/util/linkedList';

class Item implements Links<Item> {
  prev: Item | undefined = undefined;
  next: Item | undefined = undefined;
  constructor(readonly name: string) {}
}

const names = (list: LinkedList<Item>): string[] => list.toArray().map((item) => item.name);

describe('LinkedList', () => {
  it('keeps records in the order they were added, and takes the first', () => {
    const list = new LinkedList<Item>();
    const [a, b, c] = [new Item('a'), new Item('b'), new Item('c')];
    expect(list.first).toBeUndefined();
    expect(list.shift()).toBeUndefined();
    list.push(a);
    list.push(b);
    list.push(c);
    expect(names(list)).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(3);
    expect(list.shift()).toBe(a);
    expect(names(list)).toEqual(['b', 'c']);
    expect(list.has(a)).toBe(false);
  });

  it('removes from the front, the middle and the back, once', () => {
    const list = new LinkedList<Item>();
    const items = ['a', 'b', 'c', 'd'].map((name) => new Item(name));
    items.forEach((item) => list.push(item));
    expect(list.remove(items[1]!)).toBe(true);
    expect(list.remove(items[1]!)).toBe(false); // twice: nothing more
    expect(names(list)).toEqual(['a', 'c', 'd']);
    expect(list.remove(items[3]!)).toBe(true);
    expect(list.remove(items[0]!)).toBe(true);
    expect(names(list)).toEqual(['c']);
    expect(list.first).toBe(items[2]);
    expect(list.remove(items[2]!)).toBe(true);
    expect(list.size).toBe(0);
    expect(list.first).toBeUndefined();
    // Emptied, it takes records again, the removed ones too.
    list.push(items[3]!);
    list.push(items[0]!);
    expect(names(list)).toEqual(['d', 'a']);
  });

  it('tells whether a record is in it, also the only one', () => {
    const list = new LinkedList<Item>();
    const a = new Item('a');
    expect(list.has(a)).toBe(false);
    expect(list.remove(a)).toBe(false);
    list.push(a);
    expect(list.has(a)).toBe(true);
    expect(list.size).toBe(1);
  });

  it('goes through a copy, so that records can leave meanwhile', () => {
    const list = new LinkedList<Item>();
    ['a', 'b', 'c'].forEach((name) => list.push(new Item(name)));
    const seen: string[] = [];
    for (const item of list.toArray()) {
      seen.push(item.name);
      list.remove(item);
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(0);
  });
});
