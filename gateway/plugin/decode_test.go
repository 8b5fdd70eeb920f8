package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/tollgate/tollgate/internal/entity"
)

// kitchen is a config with every kind DecodeConfig handles.
type kitchen struct {
	S     string            `json:"s"`
	B     bool              `json:"b"`
	I     int               `json:"i"`
	U     uint8             `json:"u"`
	F     float64           `json:"f"`
	PS    *string           `json:"ps"`
	PI    *int              `json:"pi"`
	L     []string          `json:"l"`
	LN    []int             `json:"ln"`
	M     map[string]string `json:"m"`
	Any   any               `json:"any"`
	R     rec               `json:"r"`
	PR    *rec              `json:"pr"`
	Skip  string            `json:"-"`
	NoTag string
}

type rec struct {
	X int      `json:"x"`
	Y []string `json:"y"`
}

func kitchenFactory() *Factory {
	return &Factory{
		Name:      "kitchen",
		NewConfig: func() any { return &kitchen{S: "default", I: 7, L: []string{"d"}} },
		New:       func(cfg any, env Env) (any, error) { return cfg, nil },
	}
}

func TestDecodeConfig(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(i int) *int { return &i }
	tests := []struct {
		name    string
		raw     string
		want    *kitchen
		wantErr entity.FieldErrors
	}{
		{name: "empty is defaults", raw: ``, want: &kitchen{S: "default", I: 7, L: []string{"d"}}},
		{name: "null is defaults", raw: ` null `, want: &kitchen{S: "default", I: 7, L: []string{"d"}}},
		{name: "empty object is defaults", raw: `{}`, want: &kitchen{S: "default", I: 7, L: []string{"d"}}},
		{name: "null field keeps default", raw: `{"s":null,"l":null}`, want: &kitchen{S: "default", I: 7, L: []string{"d"}}},
		{
			name: "every kind",
			raw:  `{"s":"x","b":true,"i":-3,"u":200,"f":1.5,"ps":"p","pi":2.0,"l":[],"ln":[1,2],"m":{"a":"b"},"any":[1,"x"],"r":{"x":1,"y":["z"]},"pr":{"x":2},"NoTag":"n"}`,
			want: &kitchen{S: "x", B: true, I: -3, U: 200, F: 1.5, PS: str("p"), PI: num(2), L: []string{}, LN: []int{1, 2},
				M: map[string]string{"a": "b"}, Any: []any{json.Number("1"), "x"}, R: rec{X: 1, Y: []string{"z"}}, PR: &rec{X: 2}, NoTag: "n"},
		},
		{
			name: "type errors, all reported",
			raw:  `{"s":1,"b":"true","i":1.5,"u":300,"f":"1","ps":false,"l":"x","ln":[1,"2"],"m":[],"r":[]}`,
			wantErr: entity.FieldErrors{
				"s": "expected a string", "b": "expected a boolean", "i": "expected an integer", "u": "expected an integer",
				"f": "expected a number", "ps": "expected a string", "l": "expected an array",
				"ln": entity.FieldErrors{"2": "expected an integer"}, "m": "expected a map", "r": "expected a record",
			},
		},
		{name: "unknown fields", raw: `{"zz":1,"r":{"q":1},"Skip":"x"}`, wantErr: entity.FieldErrors{"zz": "unknown field", "r": entity.FieldErrors{"q": "unknown field"}, "Skip": "unknown field"}},
		{name: "null element", raw: `{"l":["a",null]}`, wantErr: entity.FieldErrors{"l": entity.FieldErrors{"2": "required field missing"}}},
		{name: "map value", raw: `{"m":{"a":1}}`, wantErr: entity.FieldErrors{"m": entity.FieldErrors{"a": "expected a string"}}},
		{name: "not an object", raw: `[1]`, wantErr: entity.FieldErrors{"@entity": "expected a record"}},
		{name: "huge integer", raw: `{"i":1e400}`, wantErr: entity.FieldErrors{"i": "expected an integer"}},
		{name: "invalid JSON", raw: `{"s":`, wantErr: entity.FieldErrors{"@entity": "invalid JSON: unexpected EOF"}},
		{name: "trailing data", raw: `{} {}`, wantErr: entity.FieldErrors{"@entity": "invalid JSON: data after the config object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ferr := DecodeConfig(kitchenFactory(), []byte(tt.raw))
			if !reflect.DeepEqual(ferr, tt.wantErr) {
				t.Fatalf("errors = %#v\nwant %#v", ferr, tt.wantErr)
			}
			if tt.wantErr != nil {
				if got != nil {
					t.Errorf("config returned with errors: %#v", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestAsFieldErrors(t *testing.T) {
	fe := entity.FieldErrors{"minute": "expected a number"}
	tests := []struct {
		name string
		err  error
		want entity.FieldErrors
	}{
		{"nil", nil, nil},
		{"schema error", fe.Err(), fe},
		{"wrapped schema error", fmt.Errorf("build: %w", fe.Err()), fe},
		{"plain", errors.New("boom"), entity.FieldErrors{"@entity": "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AsFieldErrors(tt.err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AsFieldErrors = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestRegistryValidateMergesErrors(t *testing.T) {
	f := &Factory{
		Name:      "strict",
		NewConfig: func() any { return &rec{} },
		New: func(cfg any, env Env) (any, error) {
			if cfg.(*rec).X <= 0 {
				return nil, entity.FieldErrors{"x": "value must be greater than 0", "@entity": "x is needed"}.Err()
			}
			return cfg, nil
		},
	}
	reg := NewRegistry(f)
	_, got := reg.Validate("strict", json.RawMessage(`{"y":"nope"}`))
	want := entity.FieldErrors{"y": "expected an array", "x": "value must be greater than 0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate = %#v, want %#v", got, want)
	}
	out, got := reg.Validate("strict", json.RawMessage(`{"x":3}`))
	if got != nil || string(out) != `{"x":3,"y":null}` {
		t.Errorf("Validate = %s, %v", out, got)
	}
	if _, got := reg.Validate("nope", nil); got["name"] != "plugin 'nope' not enabled; add it to 'plugins' configuration property" {
		t.Errorf("unknown plugin: %v", got)
	}
}

func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"s":"x","ln":[1,2],"r":{"x":1}}`, `{"m":{"a":"b"},"pr":null}`, `[]`, `"x"`, `{"i":1e3}`, `{"u":-1}`, `{"any":{"a":[null]}}`} {
		f.Add([]byte(s))
	}
	fac := kitchenFactory()
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, ferr := DecodeConfig(fac, raw)
		if (cfg == nil) == (ferr == nil) {
			t.Fatalf("cfg %v with errors %v", cfg, ferr)
		}
		if ferr != nil {
			_ = (ferr.Err()).Error()
			return
		}
		// A decoded config encodes to a form that decodes to the same.
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg2, ferr := DecodeConfig(fac, out)
		if ferr != nil {
			t.Fatalf("re-decoding %s: %v", out, ferr)
		}
		out2, _ := json.Marshal(cfg2)
		if string(out) != string(out2) {
			t.Fatalf("round trip %s -> %s", out, out2)
		}
	})
}
