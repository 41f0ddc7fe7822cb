// pal2: 2-bit palettized weights, one k-means palette of 4 f16 values per tile of 16
// output channels x 256 inputs (2.03 bits per weight). Layout, encoder and decoder:
// formats/palette.h.
#include "formats/palette.h"

namespace afm::formats {

extern const weight_format kPal2Format = palette::make_format<2>(dtype::afm_pal2, "pal2");

}  // namespace afm::formats
