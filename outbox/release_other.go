//go:build !linux

package outbox

import bolt "go.etcd.io/bbolt"

// release does nothing here: the kernel reclaims the pages of the file's
// memory map when it needs the memory.
func release(*bolt.DB, *bolt.Tx) {}
