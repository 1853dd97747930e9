package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Frame types (docs/daemon-protocol.md, "Frames").
const (
	tHello   byte = 1
	tWelcome byte = 2
	tOpen    byte = 3
	tStdin   byte = 4
	tStdout  byte = 5
	tStderr  byte = 6
	tControl byte = 7
	tEnd     byte = 8
	tEvent   byte = 9
)

// maxPayload bounds every frame: a longer length closes the connection before anything is
// allocated for it.
const maxPayload = 1 << 20

var (
	errFrame = errors.New("bad frame")
	// errIdle is a read deadline that fired before the first byte of a frame: nothing was
	// consumed, so the connection is still in step and may keep waiting.
	errIdle = errors.New("idle timeout")
)

// readFrame reads one runtime → daemon frame. Only the types the runtime may send are
// accepted; the payload is allocated at its announced size, which is bounded first.
func readFrame(c net.Conn) (byte, []byte, error) {
	var hdr [4]byte
	n, err := io.ReadFull(c, hdr[:])
	if err != nil {
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() {
			return 0, nil, errIdle
		}
		return 0, nil, err
	}
	length := binary.BigEndian.Uint32(hdr[:])
	if length < 1 || length > maxPayload+1 {
		return 0, nil, fmt.Errorf("%w: length %d", errFrame, length)
	}
	// A frame under way is read to its end whatever the idle deadline said.
	_ = c.SetReadDeadline(time.Time{})
	buf := make([]byte, length)
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, nil, err
	}
	switch buf[0] {
	case tWelcome, tOpen, tStdin, tControl:
	default:
		return 0, nil, fmt.Errorf("%w: type %d", errFrame, buf[0])
	}
	return buf[0], buf[1:], nil
}

// frameWriter serialises the frames of one connection: a request's output pumps, its control
// loop and its END all write to it.
type frameWriter struct {
	mu     sync.Mutex
	c      net.Conn
	broken bool
}

// write sends one frame; once a write has failed the connection is closed and every later
// write fails at once (the reader then sees the close and ends the request).
func (w *frameWriter) write(typ byte, payload []byte) error {
	if len(payload) > maxPayload {
		return fmt.Errorf("%w: payload of %d bytes", errFrame, len(payload))
	}
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(payload)+1))
	hdr[4] = typ
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken {
		return net.ErrClosed
	}
	bufs := net.Buffers{hdr[:], payload}
	if _, err := bufs.WriteTo(w.c); err != nil {
		w.broken = true
		_ = w.c.Close()
		return err
	}
	return nil
}
