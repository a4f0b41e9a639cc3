// Command hello is the README's example: a Connect app on the framework
// with one route of its own that calls Jira as the app.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/connect-doctor/connect-doctor/api"
	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/gin-gonic/gin"
)

func main() {
	gin.SetMode(gin.ReleaseMode)       // process-global: set by the program, never by the library
	cfg, err := config.Load(os.Getenv) // PORT, BASE_URL, DATABASE_URL, … (see Configuration)
	if err != nil {
		log.Fatal(err)
	}
	a, err := app.Build(context.Background(), cfg, app.BuildOptions{})
	if err != nil { // lifecycle, JWT verification, storage and the Jira client are wired here
		log.Fatal(err)
	}
	defer a.Close()
	// A route of your own: the context token is verified before the handler runs.
	a.Server.Group("/api/me", a.Server.ContextAuth()).GET("", func(c *gin.Context) {
		v := api.Verified(c) // the tenant comes from the verified token, never the request
		resp, err := a.Jira.AsApp(v.Tenant).Call(c, http.MethodGet, "/rest/api/3/myself", nil)
		if err != nil {
			c.JSON(http.StatusBadGateway, gin.H{"error": err.Error()})
			return
		}
		c.Data(resp.Status, "application/json", resp.Body)
	})
	log.Fatal(a.HTTPServer(fmt.Sprint(":", cfg.Port)).ListenAndServe())
}
