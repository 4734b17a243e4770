// Package atomicfile replaces small files durably: the new contents go to a temporary
// file beside the target (the target's name plus ".tmp"), which is fsynced, renamed over
// the target, and then the directory is fsynced. A crash leaves the old file or the new
// one, never a mix; a leftover ".tmp" file is garbage its owner may delete. Checkpoints,
// producer snapshots and the metadata file are written this way.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TempSuffix is appended to the target's name for the temporary file.
const TempSuffix = ".tmp"

// ErrDirSync is wrapped by WriteFile's error when everything but the final directory
// fsync succeeded: the new file is in place but a crash could still undo the rename.
var ErrDirSync = errors.New("atomicfile: directory fsync failed after rename")

// WriteFile replaces path with data durably.
func WriteFile(path string, data []byte) error {
	tmp := path + TempSuffix
	if err := writeSynced(tmp, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: rename %s: %w", tmp, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDirSync, path, err)
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory so that creations, renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
