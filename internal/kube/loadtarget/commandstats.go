package loadtarget

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// WorkloadCommands are the commands the load generator's measured and
// warmup traffic and its prefill send (lower case, as INFO commandstats
// names them).
var WorkloadCommands = []string{"get", "set"}

// ParseCommandStats sums, over cmds, the calls INFO commandstats reports
// (calls plus rejected_calls: a command refused before it ran still got a
// reply the generator counted). A command never called is absent: 0.
func ParseCommandStats(info string, cmds []string) (int64, error) {
	want := map[string]bool{}
	for _, c := range cmds {
		want[strings.ToLower(c)] = true
	}
	var sum int64
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, fields, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || !want[strings.ToLower(strings.TrimPrefix(name, "cmdstat_"))] {
			continue
		}
		found := false
		for _, kv := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k != "calls" && k != "rejected_calls" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("INFO commandstats line %q: %s is not a count", line, k)
			}
			sum += n
			found = found || k == "calls"
		}
		if !found {
			return 0, fmt.Errorf("INFO commandstats line %q has no calls=", line)
		}
	}
	return sum, nil
}

// CommandCounter reads the instance's count of WorkloadCommands through a
// port-forward to its Service — the target the load Job dials.
type CommandCounter struct {
	Config    *rest.Config
	Client    kubernetes.Interface
	Namespace string
	Instance  string
	// PasswordSecret/PasswordKey: the instance's password, as the Job reads it.
	PasswordSecret, PasswordKey string
}

// Count opens the port-forward, reads INFO commandstats and closes it.
func (c CommandCounter) Count(ctx context.Context) (int64, error) {
	password := ""
	if c.PasswordSecret != "" {
		s, err := c.Client.CoreV1().Secrets(c.Namespace).Get(ctx, c.PasswordSecret, metav1.GetOptions{})
		if err != nil {
			return 0, fmt.Errorf("reading the instance password from Secret %s/%s: %w", c.Namespace, c.PasswordSecret, err)
		}
		v, ok := s.Data[c.PasswordKey]
		if !ok {
			return 0, inputf("Secret %s/%s has no key %s: give the key that holds the password with --password-key", c.Namespace, c.PasswordSecret, c.PasswordKey)
		}
		password = string(v)
	}
	fwd, _, err := OpenForward(ctx, c.Config, c.Client, ForwardSpec{Namespace: c.Namespace, Name: c.Instance, Port: DefaultPort})
	if err != nil {
		return 0, err
	}
	defer fwd.Close()
	rc := redis.NewClient(&redis.Options{Addr: fwd.Addr, Password: password, Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	var info string
	_, err = wait.For(ctx, "INFO commandstats from "+c.Namespace+"/"+c.Instance, wait.ServerReachable, func(ctx context.Context) (bool, string, error) {
		s, err := rc.Info(ctx, "commandstats").Result()
		if err != nil {
			return false, err.Error(), nil
		}
		info = s
		return true, "", nil
	})
	if err != nil {
		return 0, err
	}
	return ParseCommandStats(info, WorkloadCommands)
}
