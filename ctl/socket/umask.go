package socket

import (
	"net"
	"sync"
	"syscall"
)

// umaskMu serializes the umask changes of listenPrivate (the umask is the
// process's).
var umaskMu sync.Mutex

// listenPrivate listens on a unix socket at path created mode 0600: the
// umask is 0177 while the socket file is made, so there is no moment when
// others could connect before a chmod.
func listenPrivate(path string) (net.Listener, error) {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
