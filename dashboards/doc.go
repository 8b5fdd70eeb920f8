// Package dashboards holds Tollgate's Grafana dashboards over the request
// log in ClickHouse (schema/clickhouse) and the files that provision them
// and their data source: the JSON files and provisioning/ in this
// directory, which docker-compose mounts into Grafana as they are.
//
// The Go side only embeds the files, so that tools and tests can read them
// from the binary, and tests them: every panel's SQL, with the data
// source plugin's macros and the template variables expanded, runs against
// a real ClickHouse 18.16 with the schema migrated. It must never change
// the dashboards at run time or talk to Grafana.
package dashboards

import "embed"

// DatasourceUID is the uid of the provisioned ClickHouse data source
// (provisioning/datasources/clickhouse.yaml) that every panel names.
const DatasourceUID = "tollgate-clickhouse"

// FS holds the dashboards (*.json at its root) and provisioning/.
//
//go:embed *.json provisioning
var FS embed.FS
