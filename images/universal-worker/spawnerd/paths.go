package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// oPath is O_PATH (the syscall package does not name it; the value is the same on every
// Linux architecture Go supports but alpha/parisc/sparc).
const oPath = 0x200000

// target is a request's path with its links resolved: the directory that holds it (links
// resolved, absolute) and its last component, to be reached relative to that directory.
type target struct {
	dir     string
	base    string   // "." for "/"
	full    string   // dir joined with base
	missing []string // directories under dir to make first (write with mkdirs)
}

// resolve resolves p's links (follow: the last component's too) and checks the result
// against roots (nil: no check). With mkdirs, directories that do not exist yet are resolved
// from their nearest existing parent. Paths are taken lexically first ("a/../b" is "b").
func resolve(p string, roots []string, follow, mkdirs bool) (*target, error) {
	clean := filepath.Clean(p)
	if follow {
		if rp, err := filepath.EvalSymlinks(clean); err == nil {
			clean = rp
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, pathError(err)
		}
	}
	t := &target{dir: filepath.Dir(clean), base: filepath.Base(clean)}
	if clean == "/" {
		t.dir, t.base = "/", "."
	}
	rdir, err := filepath.EvalSymlinks(t.dir)
	if err != nil && errors.Is(err, fs.ErrNotExist) && mkdirs {
		existing := t.dir
		for {
			parent := filepath.Dir(existing)
			t.missing = append([]string{filepath.Base(existing)}, t.missing...)
			existing = parent
			if rdir, err = filepath.EvalSymlinks(existing); err == nil || !errors.Is(err, fs.ErrNotExist) || existing == "/" {
				break
			}
		}
		if err == nil {
			rdir = filepath.Join(append([]string{rdir}, t.missing...)...)
		}
	}
	if err != nil {
		return nil, pathError(err)
	}
	t.dir = rdir
	t.full = filepath.Join(rdir, t.base)
	if roots != nil && !inRoots(t.full, roots) {
		return nil, newError("path_not_allowed", "%s is outside the allowed roots", truncate(p, 256))
	}
	return t, nil
}

// existingDir is where the missing directories start.
func (t *target) existingDir() string {
	d := t.dir
	for range t.missing {
		d = filepath.Dir(d)
	}
	return d
}

func inRoots(p string, roots []string) bool {
	for _, r := range roots {
		rr, err := filepath.EvalSymlinks(filepath.Clean(r))
		if err != nil {
			continue
		}
		if within(p, rr) {
			return true
		}
	}
	return false
}

func within(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

func pathError(err error) error {
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	if err != nil && strings.Contains(err.Error(), "too many links") {
		return newError("bad_request", "path: too many levels of links")
	}
	return &opError{Code: codeOf(err), Message: unwrapPath(err).Error()}
}

// fdPath is where the kernel says an open descriptor is.
func fdPath(fd int) (string, error) {
	return os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
}

// verify checks that fd is want, so that a link swapped into the path between the check and
// the open is caught.
func verify(fd int, want string) error {
	got, err := fdPath(fd)
	if err != nil {
		return err
	}
	if got != want {
		return newError("path_not_allowed", "%s changed while it was opened", truncate(want, 256))
	}
	return nil
}

// openDir opens the target's directory (making the missing ones) and checks it is the one
// that was resolved. The caller closes the descriptor.
func (t *target) openDir() (int, error) {
	start := t.existingDir()
	fd, err := syscall.Open(start, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, pathError(&fs.PathError{Op: "open", Path: start, Err: err})
	}
	if err := verify(fd, start); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	for _, name := range t.missing {
		if err := syscall.Mkdirat(fd, name, 0o755); err != nil && err != syscall.EEXIST {
			syscall.Close(fd)
			return -1, pathError(err)
		}
		next, err := syscall.Openat(fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		syscall.Close(fd)
		if err != nil {
			return -1, pathError(err)
		}
		fd = next
	}
	if err := verify(fd, t.dir); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// lstatAt describes name in dirfd without following a link.
func lstatAt(dirfd int, name string) (*syscall.Stat_t, error) {
	fd, err := syscall.Openat(dirfd, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func typeOf(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFDIR:
		return "dir"
	case syscall.S_IFLNK:
		return "symlink"
	}
	return "other"
}
