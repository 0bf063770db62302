package cli

import "fmt"

// flagError reports a bad flag value, naming the flag and what was wrong.
func flagError(flag, value, why string) error {
	return fmt.Errorf("invalid --%s %q: %s", flag, value, why)
}
