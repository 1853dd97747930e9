package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	maxWatches    = 16
	maxWatchDirs  = 8192
	coalesce      = 50 * time.Millisecond
	coalesceMax   = 500 * time.Millisecond
	maxPending    = 4096
	inotifyHeader = 16
	watchMask     = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MODIFY | syscall.IN_ATTRIB |
		syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF |
		syscall.IN_ONLYDIR | syscall.IN_EXCL_UNLINK
)

// limiter counts things of which only max may exist at once.
type limiter struct {
	mu  sync.Mutex
	n   int
	max int
}

func (l *limiter) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.max {
		return false
	}
	l.n++
	return true
}

func (l *limiter) give() {
	l.mu.Lock()
	l.n--
	l.mu.Unlock()
}

type watchEvent struct {
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
	Dir  bool   `json:"dir,omitempty"`
}

type rawEvent struct {
	wd   int32
	mask uint32
	name string
}

// watcher is one watch request: an inotify instance and the directories it watches. Event
// paths are given under the path as requested; directories are reached by their real path
// (links resolved), which must stay under the watched directory's.
type watcher struct {
	r         *req
	ifd       *os.File
	fd        int
	root      string // as requested, cleaned
	realRoot  string
	recursive bool
	maxDirs   int
	wds       map[int32]string // watch → directory, as the runtime knows it
	full      bool             // the directory limit was reached (said once)
	pending   map[string]*pend
}

type pend struct {
	dir         bool
	first, last time.Time
}

func (d *daemon) runWatch(r *req, o *watchReq) {
	t, err := resolve(o.Path, o.Roots, true, false)
	if err != nil {
		r.fail(err)
		return
	}
	if !d.watches.take() {
		r.fail(newError("busy", "%d watches already", maxWatches))
		return
	}
	defer d.watches.give()
	dirfd, err := openFinal(t, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		r.fail(err)
		return
	}
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		syscall.Close(dirfd)
		r.fail(err)
		return
	}
	w := &watcher{
		r: r, fd: fd, ifd: os.NewFile(uintptr(fd), "inotify"), root: filepath.Clean(o.Path),
		realRoot: t.full, recursive: o.Recursive, maxDirs: d.watchDirs, wds: map[int32]string{}, pending: map[string]*pend{},
	}
	defer w.ifd.Close()
	err = w.add(dirfd, w.root, false)
	syscall.Close(dirfd)
	if err != nil {
		r.fail(pathError(err))
		return
	}
	events := make(chan []rawEvent, 16)
	go w.read(events)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case batch, ok := <-events:
			if !ok {
				r.fail(newError("internal", "inotify stopped"))
				return
			}
			for _, ev := range batch {
				w.handle(ev)
			}
			w.flush(time.Now(), timer)
		case now := <-timer.C:
			w.flush(now, timer)
		case c := <-r.ctrl:
			if c.Cancel {
				r.end(okEnd{OK: true})
				return
			}
		case <-r.gone:
			return
		}
	}
}

// read parses the kernel's events and passes them on in batches; a full channel holds it up
// and the kernel's queue then overflows, which is said with an overflow event.
func (w *watcher) read(out chan<- []rawEvent) {
	defer close(out)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.ifd.Read(buf)
		if err != nil {
			return
		}
		var batch []rawEvent
		for off := 0; off+inotifyHeader <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			end := off + inotifyHeader + nameLen
			if end > n {
				break
			}
			name := strings.TrimRight(string(buf[off+inotifyHeader:end]), "\x00")
			batch = append(batch, rawEvent{wd: wd, mask: mask, name: name})
			off = end
		}
		select {
		case out <- batch:
		case <-w.r.gone:
			return
		case <-w.r.done:
			return
		}
	}
}

// add watches the directory open as fd (known to the runtime as path) and, when recursive,
// the directories below it. With announce, what is found inside is sent as created: it
// appeared before its watch did.
func (w *watcher) add(fd int, path string, announce bool) error {
	if len(w.wds) >= w.maxDirs {
		w.overflow()
		return nil
	}
	real, err := fdPath(fd)
	if err != nil {
		return err
	}
	if !within(real, w.realRoot) {
		return nil // moved out from under the watch meanwhile
	}
	// Through the descriptor (a link the kernel follows to the directory already checked).
	wd, err := syscall.InotifyAddWatch(w.fd, "/proc/self/fd/"+strconv.Itoa(fd), watchMask)
	if err != nil {
		if err == syscall.ENOSPC {
			w.overflow()
			return nil
		}
		return err
	}
	w.wds[int32(wd)] = path
	if !w.recursive && !announce {
		return nil
	}
	// The descriptor belongs to the caller: the listing reads a duplicate of its own.
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil
	}
	syscall.CloseOnExec(dup)
	dir := os.NewFile(uintptr(dup), path)
	entries, _ := dir.ReadDir(maxWatchDirs)
	dir.Close()
	for _, e := range entries {
		child := path + "/" + e.Name()
		if announce {
			_ = w.r.event(watchEvent{Type: "created", Path: child, Dir: e.IsDir()})
		}
		if e.IsDir() && w.recursive {
			cfd, err := syscall.Openat(fd, e.Name(), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			_ = w.add(cfd, child, announce)
			syscall.Close(cfd)
		}
	}
	return nil
}

func (w *watcher) overflow() {
	if w.full {
		return
	}
	w.full = true
	_ = w.r.event(watchEvent{Type: "overflow"})
}

func (w *watcher) handle(ev rawEvent) {
	if ev.mask&syscall.IN_Q_OVERFLOW != 0 {
		_ = w.r.event(watchEvent{Type: "overflow"})
		return
	}
	dirPath, ok := w.wds[ev.wd]
	if !ok {
		return
	}
	if ev.mask&syscall.IN_IGNORED != 0 {
		delete(w.wds, ev.wd)
		return
	}
	isDir := ev.mask&syscall.IN_ISDIR != 0
	if ev.mask&(syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF) != 0 {
		if dirPath == w.root {
			_ = w.r.event(watchEvent{Type: "deleted", Path: w.root, Dir: true})
		}
		return
	}
	if ev.name == "" {
		return
	}
	path := dirPath + "/" + ev.name
	switch {
	case ev.mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0:
		_ = w.r.event(watchEvent{Type: "created", Path: path, Dir: isDir})
		if isDir && w.recursive {
			if fd, err := w.openUnder(path); err == nil {
				_ = w.add(fd, path, true)
				syscall.Close(fd)
			}
		}
	case ev.mask&(syscall.IN_DELETE|syscall.IN_MOVED_FROM) != 0:
		delete(w.pending, path)
		if isDir {
			w.forget(path)
		}
		_ = w.r.event(watchEvent{Type: "deleted", Path: path, Dir: isDir})
	case ev.mask&(syscall.IN_MODIFY|syscall.IN_ATTRIB) != 0:
		now := time.Now()
		if p := w.pending[path]; p != nil {
			p.last = now
			return
		}
		if len(w.pending) >= maxPending {
			w.flush(now.Add(coalesceMax), nil)
		}
		w.pending[path] = &pend{dir: isDir, first: now, last: now}
	}
}

// openUnder opens a directory the runtime knows as path, by its real path.
func (w *watcher) openUnder(path string) (int, error) {
	real := w.realRoot + strings.TrimPrefix(path, w.root)
	return syscall.Open(real, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
}

// forget drops the watches of a directory that moved away and of those below it.
func (w *watcher) forget(path string) {
	for wd, p := range w.wds {
		if p == path || strings.HasPrefix(p, path+"/") {
			_, _ = syscall.InotifyRmWatch(w.fd, uint32(wd))
			delete(w.wds, wd)
		}
	}
}

// flush sends the changes that have been quiet for the coalescing window (or waited the
// longest allowed), and sets the timer for the next one.
func (w *watcher) flush(now time.Time, timer *time.Timer) {
	var next time.Time
	for path, p := range w.pending {
		due := p.last.Add(coalesce)
		if cap := p.first.Add(coalesceMax); cap.Before(due) {
			due = cap
		}
		if !due.After(now) {
			_ = w.r.event(watchEvent{Type: "changed", Path: path, Dir: p.dir})
			delete(w.pending, path)
			continue
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	if timer != nil {
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
		}
	}
}
