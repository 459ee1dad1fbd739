//go:build !linux

package loadgen

import (
	"context"
	"errors"
	"net"
)

// Event loops need epoll; elsewhere every run takes a goroutine per connection.
func eventLoopEligible(*run, []net.Conn) bool { return false }

func startEventLoops(context.Context, *run, []*worker) error {
	return errors.New("event loops need Linux")
}
