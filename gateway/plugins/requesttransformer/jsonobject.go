package requesttransformer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// object is a JSON object that keeps its members in order, so that a
// transformed body differs from the original only where it was changed.
type object []member

type member struct {
	key string
	val json.RawMessage
}

// parseObject parses a JSON object; a repeated key keeps its first place and
// its last value.
func parseObject(b []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	o := object{}
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
		o.set(key, val)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return o, nil
}

func (o object) index(key string) int {
	for i := range o {
		if o[i].key == key {
			return i
		}
	}
	return -1
}

func (o object) get(key string) (json.RawMessage, bool) {
	if i := o.index(key); i >= 0 {
		return o[i].val, true
	}
	return nil, false
}

func (o *object) set(key string, val json.RawMessage) {
	if i := o.index(key); i >= 0 {
		(*o)[i].val = val
		return
	}
	*o = append(*o, member{key, val})
}

// rename moves old's value to key new in old's place (Kong assigns
// new = old then removes old, so an absent old removes new too).
func (o *object) rename(old, new string) {
	if old == new {
		return
	}
	i := o.index(old)
	o.del(new)
	if i < 0 {
		return
	}
	(*o)[o.index(old)].key = new
}

func (o *object) del(key string) {
	if i := o.index(key); i >= 0 {
		*o = append((*o)[:i], (*o)[i+1:]...)
	}
}

func (o object) marshal() []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(quote(m.key))
		buf.WriteByte(':')
		buf.Write(m.val)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// quote encodes s as a JSON string without HTML escaping.
func quote(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// appendValue is Kong's append_value: no value becomes the new one, an array
// gets it appended, anything else becomes an array of both.
func appendValue(old json.RawMessage, ok bool, v json.RawMessage) json.RawMessage {
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
