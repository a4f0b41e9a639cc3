// Command hello is the README's library example, byte for byte: a Connect app
// with one route of its own that calls Jira as the app (readme_test.go).
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/connect-doctor/connect-doctor/api"
	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/gin-gonic/gin"
)

func main() {
	gin.SetMode(gin.ReleaseMode)       // process-global: set by the program, never by the library
	cfg, err := config.Load(os.Getenv) // PORT, BASE_URL, DATABASE_URL, … as for serve
	if err != nil {
		log.Fatal(err)
	}
	// Descriptor, lifecycle callbacks, JWT verification, storage, the Jira client.
	a, err := app.Build(context.Background(), cfg, app.BuildOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	// The context token is verified first; the tenant comes from it, never from the request.
	a.Server.Group("/api/me", a.Server.ContextAuth()).GET("", func(c *gin.Context) {
		resp, err := a.Jira.AsApp(api.Verified(c).Tenant).Call(c, http.MethodGet, "/rest/api/3/myself", nil)
		if err != nil {
			httperr.AbortErr(c, err) // {"error":{"code","message","hint","requestId"}}
			return
		}
		c.Data(resp.Status, "application/json", resp.Body)
	})
	log.Fatal(a.HTTPServer(fmt.Sprint(":", cfg.Port)).ListenAndServe())
}
