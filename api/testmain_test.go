package api_test

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain runs the tests in gin's release mode, as the programs do
// (gin.SetMode is process-global, so it is set here and in main, never by
// the library).
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}
