package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// checkPages checks the tree of the bbolt file f as bbolt's Tx.Check does,
// but with plain reads of the pages: every page reached from the root is
// within the high-water mark, reached once, not free, a branch or a leaf
// whose elements, keys and values lie within it, with keys in order; every
// page below the mark is reached or free.
//
// Tx.Check reads through bbolt's memory map, in a goroutine of its own:
// there a page past the end of the file kills the process, and every page
// it reads counts in the process's memory until the map is dropped, the
// whole file for a large outbox. After checkPages, nothing bbolt reads
// through the map lies past the end of the file.
func checkPages(f io.ReaderAt, m metaPage) error {
	c := &pageChecker{f: f, ps: int64(m.pageSize), hw: m.hw, state: make([]byte, m.hw), buf: make([]byte, m.pageSize)}
	c.state[0], c.state[1] = reached, reached // the meta pages
	if m.freelist != noFreelist {
		c.freelist(m.freelist)
	}
	c.tree(m.root, 0, nil, nil)
	for id, s := range c.state {
		if s == unknown {
			c.problem("page %d is neither used nor free", id)
		}
	}
	if len(c.problems) > 0 {
		return damaged("its pages are inconsistent: %s", strings.Join(c.problems, "; "))
	}
	return nil
}

const (
	unknown = iota
	reached
	free

	branchPageFlag   = 0x01
	freelistPageFlag = 0x10
	maxProblems      = 3
	maxDepth         = 64 // far deeper than any tree of an outbox
)

type pageChecker struct {
	f        io.ReaderAt
	ps       int64
	hw       uint64
	state    []byte // by page id
	buf      []byte // one page
	problems []string
	more     int // problems beyond maxProblems
}

func (c *pageChecker) problem(format string, args ...any) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	} else {
		c.more++
	}
}

// page reads the header of page id, marks it and its overflow reached, and
// returns its first page (a copy) and its extent in bytes.
func (c *pageChecker) page(id uint64, want uint16) ([]byte, int64, bool) {
	if id < 2 || id >= c.hw {
		c.problem("page %d is outside the file's %d pages", id, c.hw)
		return nil, 0, false
	}
	if _, err := c.f.ReadAt(c.buf, int64(id)*c.ps); err != nil {
		c.problem("page %d cannot be read: %v", id, err)
		return nil, 0, false
	}
	ne := binary.NativeEndian
	flags, overflow := ne.Uint16(c.buf[8:]), uint64(ne.Uint32(c.buf[12:]))
	switch {
	case ne.Uint64(c.buf) != id:
		c.problem("page %d is marked as page %d", id, ne.Uint64(c.buf))
		return nil, 0, false
	case flags != want && !(want == branchPageFlag|leafPageFlag && (flags == branchPageFlag || flags == leafPageFlag)):
		c.problem("page %d has the wrong type (flags %#x)", id, flags)
		return nil, 0, false
	case id+overflow >= c.hw:
		c.problem("page %d runs past the file's %d pages", id, c.hw)
		return nil, 0, false
	}
	for p := id; p <= id+overflow; p++ {
		switch c.state[p] {
		case reached:
			c.problem("page %d is used twice", p)
			return nil, 0, false
		case free:
			c.problem("page %d is both used and free", p)
			return nil, 0, false
		}
		c.state[p] = reached
	}
	return bytes.Clone(c.buf), int64(overflow+1) * c.ps, true
}

// freelist marks the freelist's pages reached and the pages it lists free.
func (c *pageChecker) freelist(id uint64) {
	page, extent, ok := c.page(id, freelistPageFlag)
	if !ok {
		return
	}
	ne := binary.NativeEndian
	at, count := int64(pageHeaderSize), int64(ne.Uint16(page[10:]))
	if count == 0xFFFF { // the count did not fit: it is the first element
		count, at = int64(ne.Uint64(page[pageHeaderSize:])), at+8
	}
	if count < 0 || at+8*count > extent {
		c.problem("the freelist on page %d lists %d pages, more than it holds", id, count)
		return
	}
	ids := readSpan(c.f, page, int64(id)*c.ps, at, 8*count)
	if ids == nil {
		c.problem("the freelist on page %d cannot be read", id)
		return
	}
	for i := range count {
		p := ne.Uint64(ids[8*i:])
		switch {
		case p < 2 || p >= c.hw:
			c.problem("the freelist lists page %d, outside the file's %d pages", p, c.hw)
		case c.state[p] != unknown:
			c.problem("page %d is free twice, or used and free", p)
		default:
			c.state[p] = free
		}
	}
}

// tree checks the branch or leaf page id and the pages under it, whose
// keys must lie from lo on and before hi (nil: no bound).
func (c *pageChecker) tree(id uint64, depth int, lo, hi []byte) {
	if depth > maxDepth {
		c.problem("the tree under page %d is too deep", id)
		return
	}
	page, extent, ok := c.page(id, branchPageFlag|leafPageFlag)
	if !ok {
		return
	}
	c.elements(page, int64(id)*c.ps, extent, depth, lo, hi)
}

// elements checks the elements of the page whose first bytes are page, at
// file offset off (or in memory, for an inline bucket) and extent long;
// its keys lie from lo on and before hi.
func (c *pageChecker) elements(page []byte, off, extent int64, depth int, lo, hi []byte) {
	ne := binary.NativeEndian
	flags, count := ne.Uint16(page[8:]), int64(ne.Uint16(page[10:]))
	if pageHeaderSize+count*elementSize > extent {
		c.problem("a page at offset %d holds %d elements, more than fit", off, count)
		return
	}
	prev := lo
	for i := range count {
		h := pageHeaderSize + i*elementSize
		el := readSpan(c.f, page, off, h, elementSize)
		if el == nil {
			c.problem("an element at offset %d cannot be read", off+h)
			return
		}
		kAt, ksize := h+int64(ne.Uint32(el[4:])), int64(ne.Uint32(el[8:]))
		if flags == branchPageFlag {
			kAt, ksize = h+int64(ne.Uint32(el[0:])), int64(ne.Uint32(el[4:]))
		}
		var vsize int64
		if flags == leafPageFlag {
			vsize = int64(ne.Uint32(el[12:]))
		}
		if kAt < h || kAt+ksize+vsize > extent {
			c.problem("an element at offset %d reaches past its page", off+h)
			return
		}
		key := readSpan(c.f, page, off, kAt, ksize)
		if key == nil || prev != nil && bytes.Compare(prev, key) > 0 || i > 0 && bytes.Equal(prev, key) ||
			hi != nil && bytes.Compare(key, hi) >= 0 {
			c.problem("the keys of the page at offset %d are out of order", off)
			return
		}
		prev = bytes.Clone(key)
		switch {
		case flags == branchPageFlag:
			next := hi // the child's keys come before the next element's
			if i+1 < count {
				if el := readSpan(c.f, page, off, h+elementSize, elementSize); el != nil {
					at, n := h+elementSize+int64(ne.Uint32(el[0:])), int64(ne.Uint32(el[4:]))
					if at+n <= extent {
						next = bytes.Clone(readSpan(c.f, page, off, at, n))
					}
				}
			}
			c.tree(ne.Uint64(el[8:]), depth+1, key, next)
		case ne.Uint32(el)&bucketLeafFlag != 0:
			c.bucket(readSpan(c.f, page, off, kAt+ksize, vsize), off+kAt+ksize, depth)
		}
	}
}

// bucket checks the bucket whose value v, at file offset off, holds its
// root page or, for a small bucket, the page itself.
func (c *pageChecker) bucket(v []byte, off int64, depth int) {
	ne := binary.NativeEndian
	if len(v) < inlineHeader {
		c.problem("a bucket at offset %d is cut short", off)
		return
	}
	if root := ne.Uint64(v); root != 0 {
		c.tree(root, depth+1, nil, nil)
		return
	}
	inline := v[inlineHeader:]
	if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != leafPageFlag {
		c.problem("a bucket at offset %d holds no page", off)
		return
	}
	c.elements(inline, off+inlineHeader, int64(len(inline)), depth+1, nil, nil)
}
