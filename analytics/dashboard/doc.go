// Package dashboard is the analytics service's built-in web dashboard: a
// single-page application in plain JavaScript (ES modules, no build step)
// and CSS, with uPlot vendored for the charts, embedded in the binary.
//
// It owns the assets only. The analytics HTTP API (package analytics/api)
// serves them at "/" and the page reads everything it shows from that
// API's /v1 endpoints with the visitor's token, so the dashboard can show
// nothing the token could not ask for itself. The assets must never load
// anything from another origin.
package dashboard
