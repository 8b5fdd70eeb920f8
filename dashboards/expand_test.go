package dashboards

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// This file turns a panel's rawSql into the statement ClickHouse receives,
// in the order Grafana and the grafana-clickhouse-datasource plugin (v4)
// do it:
//
//  1. $__conditionalAll(condition, $var), in the plugin's front end
//     (CHDatasource.applyConditionalAll): from the last occurrence to the
//     first, the arguments are split at top-level commas by counting
//     parentheses, and the macro becomes `1=1` when the variable selects
//     All (or nothing), else its first argument, verbatim.
//  2. Template variables, by Grafana's template service with the plugin's
//     default formatter: $var, ${var} and ${var:singlequote}. singlequote
//     quotes each value as '…' with ' escaped as \' and joins them with
//     commas; without a format a multi-value or All selection is quoted and
//     joined the same way (without escaping) and a single value is put in
//     as it is. All without a custom allValue stands for every option of
//     the variable. Names Grafana does not know, such as $__interval_s,
//     are left for the next step.
//  3. The plugin's back-end macros (pkg/macros), with the panel's time
//     range and interval:
//     $__timeFilter(col)  col >= toDateTime(<from, Unix s>) AND col <= toDateTime(<to, Unix s>)
//     $__fromTime         toDateTime(<from, Unix s>)
//     $__toTime           toDateTime(<to, Unix s>)
//     $__interval_s       the interval in whole seconds, at least 1
//
// Anything else that starts with $ is an error: the dashboards use only
// what is implemented here, so that the test runs what Grafana would run.
// $__timeInterval is deliberately absent: it expands to toStartOfInterval,
// which ClickHouse 18.16 does not have.

// selection is what a template variable is set to.
type selection struct {
	values []string
	all    bool
}

// request is what a panel's SQL is expanded with.
type request struct {
	from, to time.Time
	interval time.Duration
	vars     map[string]variable  // the dashboard's variables, by name
	selected map[string]selection // what each is set to
	options  map[string][]string  // every option of each, what All stands for
}

// conditionalAllMacro opens the one macro the plugin expands in the browser.
const conditionalAllMacro = "$__conditionalAll("

// backendMacros are the plugin's back-end macros the dashboards may use.
var backendMacros = map[string]bool{"timeFilter": true, "fromTime": true, "toTime": true, "interval_s": true}

// expand returns sql as ClickHouse would receive it for r.
func expand(sql string, r request) (string, error) {
	sql, err := expandConditionalAll(sql, r)
	if err != nil {
		return "", err
	}
	if sql, err = expandVariables(sql, r); err != nil {
		return "", err
	}
	if sql, err = expandMacros(sql, r); err != nil {
		return "", err
	}
	if i := strings.IndexByte(sql, '$'); i >= 0 {
		return "", fmt.Errorf("left unexpanded: %q", sql[i:min(len(sql), i+30)])
	}
	return sql, nil
}

// conditionalVar is the plugin's pattern for the variable argument:
// ${name} or $name.
var conditionalVar = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

func expandConditionalAll(sql string, r request) (string, error) {
	for i := strings.LastIndex(sql, conditionalAllMacro); i >= 0; i = strings.LastIndex(sql, conditionalAllMacro) {
		args := macroArgs(sql[i+len(conditionalAllMacro)-1:])
		if len(args) != 2 {
			return "", fmt.Errorf("$__conditionalAll takes 2 arguments, got %q", args)
		}
		m := conditionalVar.FindStringSubmatch(strings.TrimSpace(args[1]))
		if m == nil {
			return "", fmt.Errorf("$__conditionalAll: %q names no variable", args[1])
		}
		name := m[1] + m[2]
		sel, ok := r.selected[name]
		if !ok {
			return "", fmt.Errorf("$__conditionalAll: variable %q is not defined", name)
		}
		phrase := args[0]
		if sel.all || len(sel.values) == 0 || (len(sel.values) == 1 && sel.values[0] == "") {
			phrase = "1=1"
		}
		sql = strings.Replace(sql, conditionalAllMacro+args[0]+","+args[1]+")", phrase, 1)
	}
	return sql, nil
}

// macroArgs splits the arguments of the macro call that s opens with "(",
// as the plugin's getMacroArgs does: at commas outside nested parentheses,
// without trimming. It returns nil when the parentheses do not close.
func macroArgs(s string) []string {
	var args []string
	depth, start := 0, 1
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 1 {
				args = append(args, s[start:i])
				start = i + 1
			}
		}
		if (c == '(' || c == ')') && depth == 0 {
			return append(args, s[start:i])
		}
	}
	return nil
}

// grafanaVariable is Grafana's pattern for variable references ($var,
// [[var]], [[var:fmt]], ${var}, ${var.field}, ${var:fmt}).
var grafanaVariable = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

func expandVariables(sql string, r request) (string, error) {
	var err error
	out := grafanaVariable.ReplaceAllStringFunc(sql, func(ref string) string {
		m := grafanaVariable.FindStringSubmatch(ref)
		name, format := m[1]+m[2]+m[4], m[3]+m[6]
		if strings.HasPrefix(name, "__") {
			return ref // a macro or a Grafana built-in; not a dashboard variable
		}
		v, ok := r.vars[name]
		sel, selected := r.selected[name]
		if !ok || !selected {
			err = fmt.Errorf("variable %q is not defined or not set", name)
			return ref
		}
		if m[2] != "" || m[5] != "" {
			err = fmt.Errorf("%s: only $var, ${var} and ${var:singlequote} are expanded by this test", ref)
			return ref
		}
		values := sel.values
		if sel.all {
			if v.AllValue != "" {
				return v.AllValue // Grafana does not format a custom all value
			}
			values = r.options[name]
		}
		switch format {
		case "singlequote":
			quoted := make([]string, len(values))
			for i, s := range values {
				quoted[i] = "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
			}
			return strings.Join(quoted, ",")
		case "":
			if v.Multi || sel.all {
				return "'" + strings.Join(values, "','") + "'"
			}
			if len(values) != 1 {
				err = fmt.Errorf("variable %q: %d values for a single-value variable", name, len(values))
				return ref
			}
			return values[0]
		}
		err = fmt.Errorf("%s: format %q is not expanded by this test", ref, format)
		return ref
	})
	return out, err
}

// backendMacro finds the start of a back-end macro; its arguments, if any,
// are found by counting parentheses.
var backendMacro = regexp.MustCompile(`\$__(\w+)`)

func expandMacros(sql string, r request) (string, error) {
	var b strings.Builder
	for {
		loc := backendMacro.FindStringSubmatchIndex(sql)
		if loc == nil {
			b.WriteString(sql)
			return b.String(), nil
		}
		name := sql[loc[2]:loc[3]]
		if !backendMacros[name] {
			return "", fmt.Errorf("macro $__%s is not expanded by this test", name)
		}
		end := loc[1]
		var args []string
		if strings.HasPrefix(sql[end:], "(") {
			raw := macroArgs(sql[end:])
			if raw == nil {
				return "", fmt.Errorf("$__%s: unbalanced parentheses", name)
			}
			for _, a := range raw {
				args = append(args, strings.TrimSpace(a))
				end += len(a) + 1
			}
			end++ // the closing parenthesis
		}
		text, err := backendMacroText(name, args, r)
		if err != nil {
			return "", err
		}
		b.WriteString(sql[:loc[0]])
		b.WriteString(text)
		sql = sql[end:]
	}
}

func backendMacroText(name string, args []string, r request) (string, error) {
	from := fmt.Sprintf("toDateTime(%d)", r.from.Unix())
	to := fmt.Sprintf("toDateTime(%d)", r.to.Unix())
	want := 0
	if name == "timeFilter" {
		want = 1
	}
	if len(args) != want {
		return "", fmt.Errorf("$__%s takes %d arguments, got %q", name, want, args)
	}
	switch name {
	case "timeFilter":
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], from, args[0], to), nil
	case "fromTime":
		return from, nil
	case "toTime":
		return to, nil
	case "interval_s":
		return fmt.Sprint(int(math.Max(r.interval.Seconds(), 1))), nil
	}
	return "", fmt.Errorf("macro $__%s is not expanded by this test", name)
}
