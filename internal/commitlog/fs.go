package commitlog

import (
	"io"
	"os"
)

// FS opens the files of a log's segments: the .log, held open, and the index files,
// opened only to be read or written whole (see "Index files" in doc.go). It exists so
// tests can inject write errors (a full disk) and count open files; production uses
// the OS. Directory operations and checkpoint files go to the os package directly:
// nothing needs to fail them on purpose.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
}

// File is the part of *os.File a segment uses.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Stat() (os.FileInfo, error)
	Close() error
}

// osFS is the real file system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return os.OpenFile(name, flag, perm)
}
