package outbox

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// release drops the pages of db's file from this process's memory map,
// while tx keeps the map in place: a read transaction, or the write
// transaction before its commit, which alone may move the map. They stay in the page cache and are read
// again from there when next needed; without this, every message read
// would count in the process's resident memory until the kernel reclaimed
// it. The map is read-only and shared, so nothing is lost.
func release(db *bolt.DB, tx *bolt.Tx) {
	// The file's pages below tx's high-water mark are all inside the map.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(tx.Size()), syscall.MADV_DONTNEED)
}
