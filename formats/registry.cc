// The format registry: one line per format. Adding a format is one file plus one line here.
#include "afm/error.h"
#include "formats/format.h"

namespace afm::formats {

extern const weight_format kF32Format;
extern const weight_format kF16Format;
extern const weight_format kBf16Format;
extern const weight_format kQ8Format;
extern const weight_format kQ4Format;
extern const weight_format kQ2Format;
extern const weight_format kQ2TilesFormat;
extern const weight_format kAstcFormat;
extern const weight_format kPal2Format;
extern const weight_format kPal4Format;

namespace {
const weight_format* const kFormats[] = {
    &kF32Format, &kF16Format,  &kBf16Format, &kQ8Format,   &kQ4Format,
    &kQ2Format,  &kAstcFormat, &kPal2Format, &kPal4Format, &kQ2TilesFormat,
};
}  // namespace

const weight_format* find_format(dtype t) {
  for (const weight_format* f : kFormats)
    if (f->type == t) return f;
  return nullptr;
}

const weight_format& format_of(const tensor& t) {
  const weight_format* f = find_format(t.type);
  if (!f) fail("tensor '", t.name, "' has type ", dtype_name(t.type), ", which afm cannot run");
  return *f;
}

}  // namespace afm::formats
