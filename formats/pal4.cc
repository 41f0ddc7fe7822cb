// pal4: 4-bit palettized weights, one k-means palette of 16 f16 values per tile of 16
// output channels x 256 inputs (4.06 bits per weight). Layout, encoder and decoder:
// formats/palette.h.
#include "formats/palette.h"

namespace afm::formats {

extern const weight_format kPal4Format = palette::make_format<4>(dtype::afm_pal4, "pal4");

}  // namespace afm::formats
