// afm quantize: re-encodes a model file's weights into another format (docs/compression.md).
#include <cstdio>
#include <memory>
#include <string>
#include <cmath>
#include <thread>

#include "afm/quantize.h"
#include "afm/thread_pool.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"

namespace afm::cli {

void add_quantize(CLI::App& app) {
  struct opts {
    std::string in, out, weights = "q8", embed, kv;
    int threads = 0;
    bool quiet = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "quantize",
      "Re-encode a model's weights into another format: matrices take --weights, the token\n"
      "embedding table (also the tied output head) --embed, norm gains stay f32. Prints each\n"
      "tensor's relative error ||W' - W|| / ||W|| and the achieved bits per weight.");
  c->add_option("-m,--model", o->in, "Input model file (GGUF)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("-o,--out", o->out, "Output model file")->required();
  c->add_option("--weights", o->weights,
                "Matrix format: q8 (8.5 bpw), q4 (4.06 bpw, balanced), q2 (2.06 bpw, balanced\n"
                "levels {-1.5,-0.5,0.5,1.5}), astc (ASTC 6x6 HDR blocks + f16 block floors, 4.0\n"
                "bpw), astc:svd=R (astc of W - BA, the top-R singular part BA kept as an f16\n"
                "low-rank pair), pal2 / pal4 (k-means palettes per 16 x 256 tile, 2.03 / 4.06\n"
                "bpw), pal:BITS (pal2 or pal4 per tensor by measured sensitivity, for a mean of\n"
                "BITS bits per weight, e.g. pal:3.5), or f32, bf16, f16")
      ->capture_default_str();
  c->add_option("--embed", o->embed,
                "Embedding format (default: q4 with --weights q2, astc or pal, else the weights'\n"
                "format)");
  c->add_option("--kv", o->kv,
                "KV cache the model runs with by default: q8 (8 bits per value, a scale per head\n"
                "vector) or f32 (default: as the input)")
      ->check(CLI::IsMember({"q8", "f32"}));
  c->add_option("--threads", o->threads, "Threads (0 = all)");
  c->add_flag("-q,--quiet", o->quiet, "Print only the summary, not every tensor");
  c->callback([o] {
    quantize_options qo;
    qo.kv = o->kv;
    const weight_spec spec = parse_weight_spec(o->weights);
    qo.weights = spec.type;
    qo.svd_rank = spec.svd_rank;
    qo.pal_bits = spec.pal_bits;
    if (!o->embed.empty()) {
      qo.embed = parse_weight_format(o->embed);
      qo.embed_set = true;
    }
    thread_pool pool(o->threads > 0 ? o->threads
                                    : static_cast<int>(std::thread::hardware_concurrency()));
    progress_bar bar("afm quantize: " + o->out);
    const quantize_report r =
        quantize_model(o->in, o->out, qo, pool, [&](size_t d, size_t t) { bar.update(d, t); });
    if (!o->quiet) {
      std::printf("%-32s %-5s %12s %12s %8s %10s\n", "tensor", "type", "values", "bytes", "bpw",
                  "rel_rmse");
      for (const quantized_tensor& t : r.tensors)
        std::printf("%-32s %-5s %12zu %12zu %8.3f %10.6f\n", t.name.c_str(),
                    dtype_name(t.type).c_str(), t.elements, t.bytes,
                    8.0 * static_cast<double>(t.bytes) / static_cast<double>(t.elements),
                    t.rel_rmse);
    }
    double e2 = 0.0, n = 0.0;  // element-weighted mean squared relative error
    for (const quantized_tensor& t : r.tensors) {
      e2 += t.rel_rmse * t.rel_rmse * static_cast<double>(t.elements);
      n += static_cast<double>(t.elements);
    }
    std::printf(
        "wrote %s: %zu values in %zu bytes, %.3f bits per weight, rel_rmse %.6f (RMS over "
        "values)\n",
        o->out.c_str(), r.elements, r.bytes, r.bits_per_weight(), n > 0 ? std::sqrt(e2 / n) : 0.0);
  });
}

}  // namespace afm::cli
