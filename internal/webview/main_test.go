package webview

import (
	"testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
