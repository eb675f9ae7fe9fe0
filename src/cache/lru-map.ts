// A least-recently-used map bounded by `max` entries that costs memory only for the
// entries it holds: a Map from key to a node of a doubly linked list kept in recency
// order (head: least recent, tail: most recent). A read relinks one node; an insert
// past the bound reuses the head's node. So a bound of a million clients costs nothing
// until a million clients show up. lru-cache, which this replaces, allocated arrays of
// `max` slots up front: about 16 MB resident at the default max_clients.
// (Recency by Map insertion order, deleting and re-adding on each read, is simpler but
// evicting from the front of a Map that has seen many deletions walks its tombstones:
// 6 µs an insert in a flood of distinct keys, against well under 1 µs here.)

interface Node<K, V> {
  key: K;
  value: V;
  prev: Node<K, V> | undefined;
  next: Node<K, V> | undefined;
}

export class LruMap<K, V> {
  readonly #max: number;
  readonly #nodes = new Map<K, Node<K, V>>();
  #head: Node<K, V> | undefined;
  #tail: Node<K, V> | undefined;

  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError(`LruMap bound must be at least 1, got ${max}`);
    this.#max = max;
  }

  get size(): number {
    return this.#nodes.size;
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const node = this.#nodes.get(key);
    if (node === undefined) return undefined;
    this.#moveToTail(node);
    return node.value;
  }

  /** Sets the value as the most recently used, evicting the least recently used past the bound. */
  set(key: K, value: V): void {
    const nodes = this.#nodes;
    let node = nodes.get(key);
    if (node !== undefined) {
      node.value = value;
      this.#moveToTail(node);
      return;
    }
    if (nodes.size >= this.#max) {
      // Reuse the least recent entry's node for the new one.
      node = this.#head!;
      nodes.delete(node.key);
      this.#unlink(node);
      node.key = key;
      node.value = value;
    } else {
      node = { key, value, prev: undefined, next: undefined };
    }
    nodes.set(key, node);
    this.#append(node);
  }

  delete(key: K): boolean {
    const node = this.#nodes.get(key);
    if (node === undefined) return false;
    this.#nodes.delete(key);
    this.#unlink(node);
    return true;
  }

  /** Deletes every entry for which `stale` is true; returns whether any was. O(size). */
  deleteWhere(stale: (value: V, key: K) => boolean): boolean {
    let any = false;
    for (let node = this.#head; node !== undefined; ) {
      const next = node.next;
      if (stale(node.value, node.key)) {
        this.#nodes.delete(node.key);
        this.#unlink(node);
        any = true;
      }
      node = next;
    }
    return any;
  }

  clear(): void {
    this.#nodes.clear();
    this.#head = undefined;
    this.#tail = undefined;
  }

  #moveToTail(node: Node<K, V>): void {
    if (node === this.#tail) return;
    this.#unlink(node);
    this.#append(node);
  }

  #unlink(node: Node<K, V>): void {
    if (node.prev === undefined) this.#head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.#tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = undefined;
    node.next = undefined;
  }

  #append(node: Node<K, V>): void {
    node.prev = this.#tail;
    if (this.#tail === undefined) this.#head = node;
    else this.#tail.next = node;
    this.#tail = node;
  }
}
