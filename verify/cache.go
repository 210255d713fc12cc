package verify

import "sync"

// lru is a bounded, concurrency-safe least-recently-used map. A zero or negative size disables
// it (get always misses, add does nothing). It never runs goroutines.
type lru[K comparable, V any] struct {
	mu   sync.Mutex
	max  int
	m    map[K]*node[K, V]
	root node[K, V] // sentinel of a circular doubly linked list, most recent after root
}

type node[K comparable, V any] struct {
	prev, next *node[K, V]
	key        K
	val        V
}

func newLRU[K comparable, V any](size int) *lru[K, V] {
	c := &lru[K, V]{max: size}
	if size > 0 {
		c.m = make(map[K]*node[K, V], min(size, 1024))
	}
	c.root.prev, c.root.next = &c.root, &c.root
	return c
}

func (c *lru[K, V]) get(k K) (V, bool) {
	if c.max <= 0 {
		var zero V
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(n)
	c.pushFront(n)
	return n.val, true
}

func (c *lru[K, V]) add(k K, v V) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.m[k]; ok {
		n.val = v
		c.unlink(n)
		c.pushFront(n)
		return
	}
	if len(c.m) >= c.max {
		old := c.root.prev
		c.unlink(old)
		delete(c.m, old.key)
	}
	n := &node[K, V]{key: k, val: v}
	c.m[k] = n
	c.pushFront(n)
}

func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *lru[K, V]) unlink(n *node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (c *lru[K, V]) pushFront(n *node[K, V]) {
	n.prev, n.next = &c.root, c.root.next
	c.root.next.prev = n
	c.root.next = n
}
