package targets

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// backgroundSaveRunning is redis-server's refusal of SAVE while a BGSAVE
// (its own save policy's, or a snapshot schedule's) is writing: the SAVE
// did not run, so it is asked again once that save ended, not judged.
const backgroundSaveRunning = "Background save already in progress"

// saveBetweenBackgroundSaves runs SAVE on c once no background save is
// writing, within the BackgroundSaveDone deadline. Any other error of SAVE
// ends it at once: that is the target's answer.
func saveBetweenBackgroundSaves(ctx context.Context, c *redis.Client, label string) error {
	_, err := wait.For(ctx, "a background save on "+label+" to end so that SAVE runs", wait.BackgroundSaveDone,
		func(ctx context.Context) (bool, string, error) {
			err := c.Save(ctx).Err()
			if err == nil {
				return true, "", nil
			}
			if strings.Contains(err.Error(), backgroundSaveRunning) {
				return false, "SAVE refused: " + err.Error() + " (" + bgsaveState(ctx, c) + ")", nil
			}
			return false, "", err
		})
	return err
}

// bgsaveState is INFO persistence's rdb_bgsave_in_progress, for the message
// of a wait that ran out.
func bgsaveState(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "persistence").Result()
	if err != nil {
		return fmt.Sprintf("INFO persistence: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "rdb_bgsave_in_progress:") {
			return strings.TrimSpace(line)
		}
	}
	return "no rdb_bgsave_in_progress in INFO persistence"
}
