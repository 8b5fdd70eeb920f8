// Package jsonobject edits JSON objects in place for the transformer
// plugins: members keep their order, so a transformed body differs from the
// original only where it was changed. It never fails on input it cannot
// parse except by returning an error.
package jsonobject

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Object is a JSON object that keeps its members in order, so that a
// transformed body differs from the original only where it was changed.
type Object []member

type member struct {
	key string
	val json.RawMessage
}

// Parse parses a JSON object; a repeated key keeps its first place and
// its last value.
func Parse(b []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	o := Object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		o.Set(key, val)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return o, nil
}

func (o Object) index(key string) int {
	for i := range o {
		if o[i].key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of key.
func (o Object) Get(key string) (json.RawMessage, bool) {
	if i := o.index(key); i >= 0 {
		return o[i].val, true
	}
	return nil, false
}

// Set replaces key's value, or appends the member when key is absent.
func (o *Object) Set(key string, val json.RawMessage) {
	if i := o.index(key); i >= 0 {
		(*o)[i].val = val
		return
	}
	*o = append(*o, member{key, val})
}

// Rename moves old's value to key new in old's place (Kong assigns
// new = old then removes old, so an absent old removes new too).
func (o *Object) Rename(old, new string) {
	if old == new {
		return
	}
	i := o.index(old)
	o.Del(new)
	if i < 0 {
		return
	}
	(*o)[o.index(old)].key = new
}

// Del removes key.
func (o *Object) Del(key string) {
	if i := o.index(key); i >= 0 {
		*o = append((*o)[:i], (*o)[i+1:]...)
	}
}

// Marshal encodes the object with its members in order.
func (o Object) Marshal() []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(Quote(m.key))
		buf.WriteByte(':')
		buf.Write(m.val)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// Quote encodes s as a JSON string without HTML escaping.
func Quote(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// AppendValue is Kong's append_value: no value becomes the new one, an array
// gets it appended, anything else becomes an array of both.
func AppendValue(old json.RawMessage, ok bool, v json.RawMessage) json.RawMessage {
	if !ok {
		return v
	}
	var arr []json.RawMessage
	if t := bytes.TrimSpace(old); len(t) > 0 && t[0] == '[' {
		if json.Unmarshal(t, &arr) == nil {
			arr = append(arr, v)
			out, _ := json.Marshal(arr)
			return out
		}
	}
	out, _ := json.Marshal([]json.RawMessage{old, v})
	return out
}
