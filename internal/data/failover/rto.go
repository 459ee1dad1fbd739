package failover

import (
	"context"
	"fmt"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// RecoveryError is a failover that did not bring writes back within the
// FailoverRecovered bound: it names where the writes went and why they failed.
type RecoveryError struct {
	Since    time.Duration
	Timeout  time.Duration
	LastAddr string
	LastErr  string
}

func (e *RecoveryError) Error() string {
	to := "to " + e.LastAddr
	if e.LastAddr == "" {
		to = "before reaching any address"
	}
	return fmt.Sprintf("writes through the Service did not succeed again within %s=%s of the master being killed: "+
		"every write failed, the last one %s (%s) — the Service still points at the dead master, or no replica was promoted",
		wait.FailoverRecovered, e.Timeout, to, e.LastErr)
}

// MeasureRTO waits until the writer logs an acknowledged write at or after
// killedAt from an address other than deadAddr and returns the time from the
// kill to that write (the RTO). Acks from deadAddr after the kill (a dying
// master still answering) do not end the outage; Judge counts them as the
// killed master's and, when lost, bounds how long after the kill they may
// come. It gives up after the named timeout FailoverRecovered with a
// RecoveryError.
func MeasureRTO(ctx context.Context, log *Log, killedAt time.Time, deadAddr string) (time.Duration, error) {
	var rto time.Duration
	_, err := wait.For(ctx, "a write through the Service to succeed after the master was killed", wait.FailoverRecovered,
		func(context.Context) (bool, string, error) {
			if a, ok := log.FirstAckAfter(killedAt, deadAddr); ok {
				rto = a.At.Sub(killedAt)
				return true, "", nil
			}
			if f, ok := log.LastFailure(); ok {
				return false, "last write to " + f.Addr + ": " + f.Err, nil
			}
			if a, ok := log.FirstAckAfter(killedAt, ""); ok {
				return false, "writes still acknowledged by the dead master " + a.Addr, nil
			}
			return false, "no write attempted since the kill", nil
		})
	if err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		re := &RecoveryError{Since: time.Since(killedAt), Timeout: wait.Timeout(wait.FailoverRecovered)}
		if f, ok := log.LastFailure(); ok {
			re.LastAddr, re.LastErr = f.Addr, f.Err
		} else {
			re.LastAddr, re.LastErr = deadAddr, "only the dead master acknowledged writes"
		}
		return 0, re
	}
	return rto, nil
}

// WaitServiceFollows waits until resolve returns newMaster (the promoted
// replica), bounded by FailoverRecovered. deadMaster is what the Service
// resolved to before the kill: a Service stuck on it either still resolves
// to it or, once its endpoint is gone, to no pod at all, and the error names
// it in both cases, so a stuck Service is told apart from one that moved
// elsewhere.
func WaitServiceFollows(ctx context.Context, resolve Resolver, deadMaster, newMaster string) error {
	last, lastErr := "", "not resolved yet"
	_, err := wait.For(ctx, "the Service to point at the new master "+newMaster+" instead of the dead master "+deadMaster, wait.FailoverRecovered,
		func(ctx context.Context) (bool, string, error) {
			a, err := resolve(ctx)
			if err != nil {
				last, lastErr = "", err.Error()
				return false, lastErr, nil
			}
			last, lastErr = a, ""
			return a == newMaster, "Service resolves to " + a, nil
		})
	if err == nil || ctx.Err() != nil {
		return err
	}
	bound := fmt.Sprintf("after %s=%s", wait.FailoverRecovered, wait.Timeout(wait.FailoverRecovered))
	switch {
	case last == deadMaster:
		return fmt.Errorf("the Service still points at the dead master %s, not at the new master %s, %s: %w", deadMaster, newMaster, bound, err)
	case last == "":
		return fmt.Errorf("the Service is stuck on the dead master %s: it resolves to no live pod (%s), not to the new master %s, %s: %w", deadMaster, lastErr, newMaster, bound, err)
	default:
		return fmt.Errorf("the Service points at %s, neither the dead master %s nor the new master %s, %s: %w", last, deadMaster, newMaster, bound, err)
	}
}
