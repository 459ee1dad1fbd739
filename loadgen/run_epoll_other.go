//go:build !linux

package loadgen

import (
	"context"
	"errors"
	"net"
)

// Event loops need epoll; elsewhere every run takes a goroutine per connection.
func eventLoopEligible(*run, []net.Conn) bool { return false }

func eventLoopCount(int) int { return 0 }

func startEventLoops(context.Context, *run, []*worker, int) error {
	return errors.New("event loops need Linux")
}
