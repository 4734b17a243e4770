package cli

import (
	"context"
	"errors"
)

func runConfigs(context.Context, *env, []string) error {
	return errors.New("not implemented yet")
}
