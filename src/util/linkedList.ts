/** The links a record carries to sit in a {@link LinkedList} (in one at a time). */
export interface Links<T> {
  prev: T | undefined;
  next: T | undefined;
}

/**
 * Records in the order they were added, each carrying its own links: append, remove and take the first in O(1), allocating
 * nothing. Not a Map or Set: a long-lived one holding live connections' young objects made scavenges copy twice as much
 * under a flood (2.3 -> 5 µs a connection, bench/RESULTS.md section 11); records linked to one another do not.
 */
export class LinkedList<T extends Links<T>> {
  #first: T | undefined = undefined;
  #last: T | undefined = undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The record added the longest ago. */
  get first(): T | undefined {
    return this.#first;
  }

  /** Whether `item`, in this list or in none, is here (read from its own links). */
  has(item: T): boolean {
    return item.prev !== undefined || this.#first === item;
  }

  /** Adds `item` at the back; it must not be in a list. */
  push(item: T): void {
    item.prev = this.#last;
    item.next = undefined;
    if (this.#last === undefined) this.#first = item;
    else this.#last.next = item;
    this.#last = item;
    this.#size++;
  }

  /** @returns Whether `item` was in the list. */
  remove(item: T): boolean {
    if (!this.has(item)) return false;
    const { prev, next } = item;
    if (prev === undefined) this.#first = next;
    else prev.next = next;
    if (next === undefined) this.#last = prev;
    else next.prev = prev;
    item.prev = item.next = undefined;
    this.#size--;
    return true;
  }

  /** Takes the record added the longest ago. */
  shift(): T | undefined {
    const first = this.#first;
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** The records in order, as an array, so that they can be removed while going through it. */
  toArray(): T[] {
    const items: T[] = [];
    for (let item = this.#first; item !== undefined; item = item.next) items.push(item);
    return items;
  }
}
