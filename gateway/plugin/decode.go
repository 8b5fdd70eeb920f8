package plugin

import (
	"github.com/tollgate/tollgate/internal/entity"
)

// DecodeConfig decodes raw (a JSON object, or empty for all defaults) into a
// fresh f.NewConfig() strictly: unknown fields and wrong types are errors
// naming the field. TODO(plugin pipeline): implement.
func DecodeConfig(f *Factory, raw []byte) (any, entity.FieldErrors) {
	panic("unimplemented")
}

// AsFieldErrors turns a constructor's error into field errors (a plain error
// becomes {"@entity": msg}).
func AsFieldErrors(err error) entity.FieldErrors {
	panic("unimplemented")
}
