package main

import (
	"container/heap"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"
)

const readChunk = 64 << 10

func runFile(r *req, o *fileReq) {
	var err error
	switch o.Op {
	case "read":
		err = readFile(r, o)
	case "write":
		err = writeFile(r, o)
	case "stat":
		err = statFile(r, o)
	case "list":
		err = listDir(r, o)
	case "delete":
		err = deletePath(r, o)
	}
	if err != nil {
		r.fail(err)
	}
}

type okEnd struct {
	OK bool `json:"ok"`
}

type sizeEnd struct {
	OK   bool  `json:"ok"`
	Size int64 `json:"size"`
}

type entry struct {
	Name    string `json:"name,omitempty"`
	Type    string `json:"type"`
	Size    int64  `json:"size"`
	Mode    uint32 `json:"mode"`
	MtimeMs int64  `json:"mtimeMs"`
}

func entryOf(st *syscall.Stat_t) entry {
	return entry{
		Type:    typeOf(st.Mode),
		Size:    st.Size,
		Mode:    st.Mode & 0o7777,
		MtimeMs: st.Mtim.Sec*1000 + st.Mtim.Nsec/1e6,
	}
}

// openFinal opens the target's last component without following a link and checks it is
// where it was resolved to be.
func openFinal(t *target, flags int) (int, error) {
	dirfd, err := t.openDir()
	if err != nil {
		return -1, err
	}
	defer syscall.Close(dirfd)
	fd, err := syscall.Openat(dirfd, t.base, flags|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, pathError(err)
	}
	if err := verify(fd, t.full); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func readFile(r *req, o *fileReq) error {
	t, err := resolve(o.Path, o.Roots, true, false)
	if err != nil {
		return err
	}
	// O_PATH first: nothing is opened for reading (a FIFO, a device) until it is known to be
	// a regular file; the same inode is then reopened through /proc/self/fd.
	pfd, err := openFinal(t, oPath)
	if err != nil {
		return err
	}
	defer syscall.Close(pfd)
	var st syscall.Stat_t
	if err := syscall.Fstat(pfd, &st); err != nil {
		return pathError(err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return newError("not_a_file", "%s is not a regular file", truncate(o.Path, 256))
	}
	limit := int64(defaultOutput)
	if o.MaxBytes != nil {
		limit = *o.MaxBytes
	}
	if st.Size > limit {
		return newError("too_large", "%s has %d bytes, more than maxBytes %d", truncate(o.Path, 256), st.Size, limit)
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(pfd), os.O_RDONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		return pathError(err)
	}
	defer f.Close()
	buf := make([]byte, readChunk)
	var size int64
	for {
		n, err := f.Read(buf)
		if n > 0 {
			size += int64(n)
			if size > limit {
				return newError("too_large", "%s grew past maxBytes %d while read", truncate(o.Path, 256), limit)
			}
			if err := r.send(tStdout, buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return pathError(err)
		}
	}
	r.end(sizeEnd{OK: true, Size: size})
	return nil
}

func writeFile(r *req, o *fileReq) error {
	mkdirs := o.Mkdirs != nil && *o.Mkdirs
	t, err := resolve(o.Path, o.Roots, true, mkdirs)
	if err != nil {
		return err
	}
	if t.base == "." {
		return badRequest("path: not a file path")
	}
	dirfd, err := t.openDir()
	if err != nil {
		return err
	}
	defer syscall.Close(dirfd)
	if st, err := lstatAt(dirfd, t.base); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return newError("not_a_file", "%s is a directory", truncate(o.Path, 256))
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".spawnerd-" + hex.EncodeToString(rnd[:]) + ".tmp"
	fd, err := syscall.Openat(dirfd, tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return pathError(err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	committed := false
	defer func() {
		_ = f.Close()
		if !committed {
			_ = syscall.Unlinkat(dirfd, tmp)
		}
	}()
	want := *o.Size
	var got int64
	var werr error
	for {
		select {
		case b := <-r.stdin:
			if len(b) == 0 {
				if werr != nil {
					return pathError(werr)
				}
				if got != want {
					return badRequest("size: %d bytes announced, %d sent", want, got)
				}
				mode := uint32(0o644)
				if o.Mode != nil {
					mode = *o.Mode
				}
				if err := syscall.Fchmod(fd, mode); err != nil {
					return pathError(err)
				}
				if err := syscall.Renameat(dirfd, tmp, dirfd, t.base); err != nil {
					return pathError(err)
				}
				committed = true
				r.end(okEnd{OK: true})
				return nil
			}
			got += int64(len(b))
			if got > want {
				return badRequest("size: more than the %d bytes announced", want)
			}
			if werr == nil {
				_, werr = f.Write(b)
			}
		case <-r.gone:
			return errors.New("connection closed")
		}
	}
}

func statFile(r *req, o *fileReq) error {
	t, err := resolve(o.Path, o.Roots, false, false)
	if err != nil {
		return err
	}
	fd, err := openFinal(t, oPath)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return pathError(err)
	}
	e := entryOf(&st)
	r.end(struct {
		OK bool `json:"ok"`
		entry
	}{true, e})
	return nil
}

// names keeps the `limit` smallest names seen: a max-heap, so a huge directory costs memory
// for `limit` names only.
type names []string

func (h names) Len() int           { return len(h) }
func (h names) Less(i, j int) bool { return h[i] > h[j] }
func (h names) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *names) Push(x any)        { *h = append(*h, x.(string)) }
func (h *names) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func listDir(r *req, o *fileReq) error {
	t, err := resolve(o.Path, o.Roots, true, false)
	if err != nil {
		return err
	}
	limit := defaultLimit
	if o.Limit != nil {
		limit = *o.Limit
	}
	fd, err := openFinal(t, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(fd), t.full)
	defer dir.Close()
	h := &names{}
	truncated := false
	for {
		batch, err := dir.Readdirnames(256)
		for _, n := range batch {
			switch {
			case h.Len() < limit:
				heap.Push(h, n)
			case limit > 0 && n < (*h)[0]:
				(*h)[0] = n
				heap.Fix(h, 0)
				truncated = true
			default:
				truncated = true
			}
		}
		if err == io.EOF || len(batch) == 0 {
			break
		}
		if err != nil {
			return pathError(err)
		}
	}
	sorted := make([]string, h.Len())
	for i := len(sorted) - 1; i >= 0; i-- {
		sorted[i] = heap.Pop(h).(string)
	}
	entries := make([]entry, 0, len(sorted))
	for _, n := range sorted {
		st, err := lstatAt(fd, n)
		if err != nil {
			continue // gone meanwhile
		}
		e := entryOf(st)
		e.Name = n
		entries = append(entries, e)
	}
	type listEnd struct {
		OK        bool    `json:"ok"`
		Entries   []entry `json:"entries"`
		Truncated bool    `json:"truncated"`
	}
	// The answer is one frame: long names can make `limit` entries more than 1 MiB, so the
	// list is cut (and says so) until it fits.
	for {
		b, err := json.Marshal(listEnd{true, entries, truncated})
		if err != nil {
			return err
		}
		if len(b) <= maxPayload {
			break
		}
		entries = entries[:len(entries)*maxPayload/len(b)*9/10]
		truncated = true
	}
	r.end(listEnd{true, entries, truncated})
	return nil
}

const atRemoveDir = 0x200

func unlinkAt(dirfd int, name string, flags int) error {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, errno := syscall.Syscall(syscall.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafePointer(p)), uintptr(flags))
	if errno != 0 {
		return errno
	}
	return nil
}

func deletePath(r *req, o *fileReq) error {
	t, err := resolve(o.Path, o.Roots, false, false)
	if err != nil {
		return err
	}
	if t.base == "." {
		return badRequest("path: cannot delete /")
	}
	fd, err := openFinal(t, oPath)
	if err != nil {
		return err
	}
	var st syscall.Stat_t
	err = syscall.Fstat(fd, &st)
	syscall.Close(fd)
	if err != nil {
		return pathError(err)
	}
	dirfd, err := t.openDir()
	if err != nil {
		return err
	}
	defer syscall.Close(dirfd)
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		err = unlinkAt(dirfd, t.base, 0)
	} else if o.Recursive != nil && *o.Recursive {
		err = removeAllAt(dirfd, t.base, 0)
	} else {
		err = unlinkAt(dirfd, t.base, atRemoveDir)
		if err == syscall.ENOTEMPTY || err == syscall.EEXIST {
			return badRequest("path: directory not empty (recursive is false)")
		}
	}
	if err != nil {
		return pathError(err)
	}
	r.end(okEnd{OK: true})
	return nil
}

// removeAllAt removes name in dirfd and everything below it, never following a link (every
// directory is opened with O_NOFOLLOW relative to its parent).
func removeAllAt(dirfd int, name string, depth int) error {
	if depth > 1024 {
		return errors.New("directory tree too deep")
	}
	err := unlinkAt(dirfd, name, 0)
	if err == nil || err == syscall.ENOENT {
		return nil
	}
	if err != syscall.EISDIR && err != syscall.EPERM {
		return err
	}
	// Entries removed while a directory is read can make the read skip others: read again
	// until the directory can go.
	for pass := 0; ; pass++ {
		fd, oerr := syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if oerr != nil {
			return err
		}
		dir := os.NewFile(uintptr(fd), name)
		for {
			batch, rerr := dir.Readdirnames(256)
			for _, n := range batch {
				if err := removeAllAt(fd, n, depth+1); err != nil {
					dir.Close()
					return err
				}
			}
			if rerr != nil || len(batch) == 0 {
				break
			}
		}
		dir.Close()
		err = unlinkAt(dirfd, name, atRemoveDir)
		if err != syscall.ENOTEMPTY || pass >= 8 {
			break
		}
	}
	if err == syscall.ENOENT {
		return nil
	}
	return err
}
