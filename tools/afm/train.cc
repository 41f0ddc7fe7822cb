// afm train RECIPE: runs a training recipe (train/recipes/*.json, docs/training.md) end to end:
// tokenizer, corpus, initial weights, the trainer with a progress bar, then the exported model,
// its held-out perplexity and the loss curve. Rerunning with the same --out resumes. --nproc
// runs it data-parallel in several processes.
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <thread>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/bpe_trainer.h"
#include "afm/chat_format.h"
#include "afm/error.h"
#include "afm/model.h"
#include "afm/quantize.h"
#include "afm/synthetic_tasks.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"
#include "train/data.h"
#include "train/data_parallel.h"
#include "train/lora.h"
#include "train/qat.h"
#include "train/trainer.h"
#include "train/upcycle.h"

namespace afm::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Files named by a recipe, relative to the recipe's folder; a folder stands for every file
// under it, in sorted order.
std::vector<std::string> data_files(const json& list, const fs::path& base) {
  std::vector<std::string> out;
  for (const auto& item : list) {
    const fs::path p = base / item.get<std::string>();
    if (fs::is_directory(p)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file()) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else {
      if (!fs::exists(p)) fail("recipe: data file ", p.string(), " does not exist");
      out.push_back(p.string());
    }
  }
  return out;
}

// The recipe's synthetic examples ("synthetic": {"per_task", "seed"}), per task in turn.
std::vector<task_example> synthetic_examples(const json& data) {
  std::vector<task_example> out;
  if (!data.contains("synthetic")) return out;
  const json& s = data.at("synthetic");
  const size_t per_task = s.at("per_task").get<size_t>();
  rng g(s.value("seed", uint64_t{7}));
  for (size_t i = 0; i < per_task; ++i)
    for (synthetic_task t : all_synthetic_tasks()) out.push_back(make_task_example(t, g));
  return out;
}

// "bf16": true autocasts to bf16 where the CPU has bf16 instructions and trains in f32
// elsewhere, saying so once (rank 0), since emulated bf16 is many times slower than f32;
// "always" autocasts on any CPU; false never does.
bool bf16_of(const json& t, int rank) {
  if (!t.contains("bf16")) return false;
  const json& v = t.at("bf16");
  if (v.is_string() && v.get<std::string>() == "always") return true;
  if (!v.is_boolean())
    fail("recipe: train.bf16 must be true, false or \"always\" (got ", v.dump(), ")");
  if (!v.get<bool>()) return false;
  if (train::cpu_has_native_bf16()) return true;
  if (rank == 0)
    std::fprintf(stderr,
                 "afm train: this CPU has no bf16 instructions (AVX512-BF16 or AMX), so the "
                 "recipe's \"bf16\": true trains in f32 here; \"always\" forces emulated bf16\n");
  return false;
}

train::train_options train_options_of(const json& t, const std::string& out_dir, int rank) {
  train::train_options o;
  o.steps = t.value("steps", o.steps);
  o.batch = t.value("batch", o.batch);
  o.lr = t.value("lr", o.lr);
  o.min_lr = t.value("min_lr", o.min_lr);
  o.warmup = t.value("warmup", o.warmup);
  o.weight_decay = t.value("weight_decay", o.weight_decay);
  o.clip = t.value("clip", o.clip);
  o.checkpoint_every = t.value("checkpoint_every", o.checkpoint_every);
  o.micro_batch = t.value("micro_batch", o.micro_batch);
  o.bf16 = bf16_of(t, rank);
  o.out_dir = out_dir;
  if (o.steps < 1 || o.batch < 1 || o.warmup < 0 || !(o.lr > 0))
    fail("recipe: train.steps, train.batch and train.lr must be positive");
  return o;
}

struct run_args {
  std::string out, init, teacher;  // init/teacher: override the recipe's model files
  int64_t steps = 0, stop_at = 0;
  train::process_group* group = nullptr;  // data parallel; nullptr: one process
};

// A model file named by the command line or the recipe (relative to the recipe's folder).
std::string model_file(const json& r, const char* key, const std::string& given,
                       const fs::path& base) {
  if (!given.empty()) return given;
  if (!r.contains(key)) return {};
  const std::string p = (base / r.at(key).get<std::string>()).string();
  if (!fs::exists(p)) fail("recipe: ", key, " model ", p, " does not exist");
  return p;
}

train::upcycle_options upcycle_options_of(const json& u, uint64_t seed) {
  train::upcycle_options o;
  o.n_experts = u.value("n_experts", o.n_experts);
  o.n_experts_used = u.value("n_experts_used", o.n_experts_used);
  o.moe_every = u.value("moe_every", o.moe_every);
  o.n_tracks = u.value("n_tracks", o.n_tracks);
  o.track_block_depth = u.value("track_block_depth", o.track_block_depth);
  o.sliding_window = u.value("sliding_window", o.sliding_window);
  o.global_every = u.value("global_every", o.global_every);
  o.router_std = u.value("router_std", o.router_std);
  o.seed = seed;
  return o;
}

// Every recipe kind runs the same steps: tokenizer, initial weights, corpus, trainer, export.
//   pretrain  random weights from "model" (or "init"), text and synthetic tasks
//   sft       "init" weights, usually synthetic chat transcripts only (responses count)
//   distill   a student from "model" (or "init") learns from "teacher"'s logits plus CE
//   upcycle   "init" (dense) becomes a PT-MoE model ("upcycle" options), then trains
//   qat       "init" trains through 2-bit fake quantization ("qat" options, train/qat.h) and
//             exports its weight average on the grid: q2 matrices, a q4 embedding
//   recovery  "init" is a compressed model, kept frozen; LoRA adapters ("lora" options,
//             train/lora.h) train on top and export beside its unchanged tensors
void run_recipe(const json& r, const fs::path& base, const run_args& a) {
  const std::string kind = r.value("recipe", std::string());
  if (kind != "pretrain" && kind != "sft" && kind != "distill" && kind != "upcycle" &&
      kind != "qat" && kind != "recovery")
    fail("unknown recipe '", kind, "' (known: pretrain, sft, distill, upcycle, qat, recovery)");
  const int rank = a.group ? a.group->comm.rank : 0;
  auto barrier = [&] {
    if (a.group) a.group->barrier();
  };
  const std::string& out = a.out;
  fs::create_directories(out);
  const json& data = r.at("data");
  const std::vector<std::string> files =
      data.contains("files") ? data_files(data.at("files"), base) : std::vector<std::string>{};
  const std::vector<task_example> synthetic = synthetic_examples(data);
  const std::string init = model_file(r, "init", a.init, base);
  const std::string teacher_path = model_file(r, "teacher", a.teacher, base);
  if ((kind == "sft" || kind == "upcycle" || kind == "qat" || kind == "recovery") && init.empty())
    fail("recipe: a ", kind, " recipe needs \"init\": the model file to start from");
  if (kind == "distill" && teacher_path.empty())
    fail("recipe: a distill recipe needs \"teacher\": the teacher's model file");
  const uint64_t seed = r.value("seed", uint64_t{1});

  // The tokenizer: the recipe's file, the starting model's (or teacher's) own, or trained on
  // the data once by rank 0 and kept in the run folder.
  const fs::path vocab_path = fs::path(out) / "vocab.json";  // tokenizer::save's format
  const json tk = r.value("tokenizer", json::object());
  const std::string vocab_source = tk.contains("file")
                                       ? (base / tk.at("file").get<std::string>()).string()
                                       : (!init.empty() ? init : teacher_path);
  if (vocab_source.empty() && rank == 0 && !fs::exists(vocab_path)) {
    std::vector<std::string> tok_files = files;
    // The synthetic examples' text joins the tokenizer's data, so JSON and schema words get
    // tokens of their own.
    if (!synthetic.empty()) {
      const fs::path sample = fs::path(out) / "synthetic-text.txt";
      std::ofstream st(sample);
      for (const task_example& e : synthetic)
        for (const auto& t : e.training_transcripts())
          for (const chat_entry& c : t) st << c.content << "\n";
      tok_files.push_back(sample.string());
    }
    bpe_train_options bo;
    bo.vocab_size = tk.at("vocab_size").get<size_t>();
    bo.specials = afm_chat_special_tokens();
    progress_bar bar("afm train: tokenizer");
    bo.progress = [&](const char*, size_t done, size_t total) { bar.update(done, total); };
    train_bpe(tok_files, bo).save(vocab_path.string());
  }
  barrier();
  const tokenizer tok = tokenizer::open(vocab_source.empty() ? vocab_path.string() : vocab_source);
  const int32_t boundary = tok.special_id("<|eos|>");
  if (boundary < 0) fail("recipe: the tokenizer has no <|eos|> token to end documents with");

  // Initial weights.
  thread_pool pool(2);
  train::torch_model m;
  if (kind == "upcycle") {
    const train::torch_model dense = train::import_model(init);
    m = train::upcycle(dense, upcycle_options_of(r.value("upcycle", json::object()), seed));
    m.cfg.name = r.value("name", m.cfg.name);
  } else if (!init.empty()) {
    m = train::import_model(init);
  } else {
    model_config cfg = load_config_json((base / r.at("model").get<std::string>()).string());
    cfg.n_vocab = static_cast<int64_t>(tok.vocab_size());
    cfg.name = r.value("name", cfg.name);
    // Random from the config, the same every run, so a resume rebuilds them.
    const std::string path = (fs::path(out) / "init.gguf").string();
    if (rank == 0)
      create_random_model(cfg, {.type = dtype::f32, .seed = seed, .std = r.value("init_std", 0.02)},
                          path, pool);
    barrier();
    m = train::import_model(path);
  }
  if (m.cfg.n_vocab != static_cast<int64_t>(tok.vocab_size()))
    fail("recipe: the model has ", m.cfg.n_vocab, " tokens, its tokenizer ", tok.vocab_size());
  std::optional<train::torch_model> teacher;
  if (!teacher_path.empty()) {
    teacher = train::import_model(teacher_path);
    if (teacher->cfg.n_vocab != m.cfg.n_vocab)
      fail("recipe: the teacher has ", teacher->cfg.n_vocab, " tokens, the student ", m.cfg.n_vocab,
           ": distillation needs one vocabulary");
  }
  const size_t seq_len = data.at("seq_len").get<size_t>();
  if (static_cast<int64_t>(seq_len) > m.cfg.n_ctx)
    fail("recipe: data.seq_len ", seq_len, " exceeds the model's context length ", m.cfg.n_ctx);

  train::corpus_options co{boundary, seed, files.empty() ? 0.0 : data.value("heldout", 0.0)};
  size_t longest = 0;
  for (const task_example& e : synthetic) {
    for (const auto& t : e.training_transcripts()) {
      co.token_documents.push_back(train::chat_document(tok, t));
      longest = std::max(longest, co.token_documents.back().tokens.size());
    }
  }
  if (data.value("align_transcripts", false)) {
    co.align = seq_len + 1;
    if (longest + 1 > co.align)
      std::fprintf(stderr,
                   "afm train: warning: the longest transcript (%zu tokens) exceeds a "
                   "sequence (%zu); its end is cut\n",
                   longest, co.align);
  }
  progress_bar files_bar("afm train: corpus");
  const train::corpus corpus = train::build_corpus(files, tok, co, [&](size_t done, size_t total) {
    if (rank == 0) files_bar.update(done, total);
  });
  if (rank == 0)
    std::fprintf(stderr,
                 "afm train: %s, %zu files, %.1f MB, %zu synthetic transcripts (longest %zu "
                 "tokens), %zu training documents (%zu tokens), %zu held out (%zu tokens), "
                 "vocabulary %zu\n",
                 kind.c_str(), files.size(), static_cast<double>(corpus.bytes) / 1e6,
                 co.token_documents.size(), longest, corpus.train_documents,
                 corpus.train.tokens.size(), corpus.heldout_documents, corpus.heldout.tokens.size(),
                 tok.vocab_size());

  train::sequence_loader loader(corpus.train, seq_len, seed);
  train::train_options o = train_options_of(r.at("train"), out, rank);
  if (a.steps > 0) o.steps = a.steps;
  o.stop_at = a.stop_at;
  o.comm = a.group ? &a.group->comm : nullptr;
  if (teacher) {
    const json d = r.value("distill", json::object());
    o.teacher = &*teacher;
    o.distill_alpha = d.value("alpha", o.distill_alpha);
    o.distill_temperature = d.value("temperature", o.distill_temperature);
  }
  std::optional<train::qat_state> qat;
  if (kind == "qat") {
    const json q = r.value("qat", json::object());
    train::qat_options qo;
    qo.bits = q.value("bits", qo.bits);
    qo.embed_bits = q.value("embed_bits", qo.embed_bits);
    qo.ema = q.value("ema", qo.ema);
    if (qo.bits != 2 && qo.bits != 4) fail("recipe: qat.bits must be 2 or 4");
    if (qo.embed_bits != 2 && qo.embed_bits != 4) fail("recipe: qat.embed_bits must be 2 or 4");
    qat = train::qat_state::init(m, qo);
    o.qat = &*qat;
  }
  std::optional<train::lora_state> lora;
  if (kind == "recovery") {
    const json l = r.value("lora", json::object());
    train::lora_options lo;
    lo.rank = l.value("rank", lo.rank);
    lo.alpha = l.value("alpha", lo.alpha);
    lo.seed = seed;
    lora = train::lora_state::init(m, lo);
    o.lora = &*lora;
  }
  progress_bar bar("afm train");
  train::train(m, loader, o, [&](const train::step_report& s) {
    if (rank != 0) return;
    char suffix[96];
    std::snprintf(suffix, sizeof suffix, "loss %.4f  %.0f tok/s", s.loss, s.tokens_per_s);
    bar.update(static_cast<size_t>(s.step), static_cast<size_t>(s.steps), suffix);
  });
  if (rank != 0) return;
  if (a.stop_at > 0 && a.stop_at < o.steps) {
    std::fprintf(stderr, "afm train: stopped after step %lld; run again to resume\n",
                 static_cast<long long>(a.stop_at));
    return;
  }

  const std::string model_path = (fs::path(out) / "model.gguf").string();
  if (qat) {
    // The EMA weights sit on each tensor's grid; the balanced formats store them with per-block
    // scales, so the export loses at most the f16 rounding of the scale.
    m = qat->export_weights(m);
    const std::string grid = (fs::path(out) / "qat-grid-f32.gguf").string();
    train::export_model(m, grid, dtype::f32, pool, [&](gguf_writer& w) { tok.write_gguf(w); });
    quantize_options qo;
    qo.weights = qat->opt.bits == 2 ? dtype::afm_q2 : dtype::afm_q4;
    qo.embed_set = true;
    qo.embed = qat->opt.embed_bits == 2 ? dtype::afm_q2 : dtype::afm_q4;
    const quantize_report rep = quantize_model(grid, model_path, qo, pool);
    double worst = 0.0;
    for (const quantized_tensor& t : rep.tensors) worst = std::max(worst, t.rel_rmse);
    std::fprintf(stderr,
                 "afm train: QAT export %.3f bits per weight, largest relative error %.2g\n",
                 rep.bits_per_weight(), worst);
  } else if (lora) {
    // The compressed tensors go out exactly as they came in; only the adapters are new.
    train::export_with_adapters(init, *lora, model_path);
    m = lora->applied(m);  // what the held-out loss below should see
  } else {
    train::export_model(m, model_path, parse_dtype(r.value("export_dtype", std::string("f32"))),
                        pool, [&](gguf_writer& w) { tok.write_gguf(w); });
  }
  train::write_loss_svg((fs::path(out) / "log.csv").string(),
                        (fs::path(out) / "loss.svg").string());
  json summary{{"recipe", kind},
               {"model", model_path},
               {"steps", o.steps},
               {"ranks", a.group ? a.group->comm.size : 1},
               {"bf16", o.bf16},  // autocast as run, after the CPU check
               {"train_tokens", corpus.train.tokens.size()}};
  if (!corpus.heldout.tokens.empty()) {
    const double loss = train::mean_loss(m, corpus.heldout, seq_len, 64);
    summary["heldout_loss"] = loss;
    summary["heldout_perplexity"] = std::exp(loss);
    std::fprintf(stderr, "afm train: held-out loss %.4f, perplexity %.2f\n", loss, std::exp(loss));
  }
  std::ofstream(fs::path(out) / "summary.json") << summary.dump(2) << "\n";
  std::fprintf(stderr, "afm train: wrote %s, %s/log.csv and %s/loss.svg\n", model_path.c_str(),
               out.c_str(), out.c_str());
}

// --nproc N: this process becomes rank 0 and starts ranks 1..N-1 as copies of itself with
// --rank/--world-size/--master added; returns their pids.
std::vector<pid_t> spawn_ranks(int nproc, const std::string& master) {
  std::vector<std::string> base;
  {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    for (std::string arg; std::getline(in, arg, '\0');) {
      if (arg == "--nproc") {  // the copies are ranks of this run, not launchers
        std::getline(in, arg, '\0');
        continue;
      }
      if (arg.rfind("--nproc=", 0) == 0) continue;
      base.push_back(arg);
    }
  }
  std::vector<pid_t> pids;
  for (int r = 1; r < nproc; ++r) {
    std::vector<std::string> args = base;
    for (const std::string& extra :
         {std::string("--rank"), std::to_string(r), std::string("--world-size"),
          std::to_string(nproc), std::string("--master"), master})
      args.push_back(extra);
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0)
      fail("afm train: cannot start rank ", r);
    pids.push_back(pid);
  }
  return pids;
}

}  // namespace

void add_train(CLI::App& app) {
  struct opts {
    std::string recipe, out, init, teacher, master;
    int64_t steps = 0, stop_at = 0;
    int threads = 0, nproc = 1, rank = 0, world_size = 1;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "train",
      "Run a training recipe (train/recipes/*.json; docs/training.md): pretrain, sft, distill or\n"
      "upcycle. Tokenizer, corpus, initial weights, AdamW with warmup and cosine decay,\n"
      "checkpoints, then the exported model, its held-out perplexity, log.csv and loss.svg in the\n"
      "output folder. Running again with the same --out resumes from the last checkpoint.\n"
      "--nproc N trains data-parallel in N processes (c10d, Gloo, over 127.0.0.1).");
  c->add_option("recipe", o->recipe, "Recipe JSON")->required()->check(CLI::ExistingFile);
  c->add_option("--out", o->out, "Output folder (default: runs/<recipe file name>)");
  c->add_option("--steps", o->steps, "Override the recipe's step count")
      ->check(CLI::PositiveNumber);
  c->add_option("--stop-at", o->stop_at,
                "Stop after this step, with a checkpoint (the schedule still ends at the step "
                "count); run again with the same --out to resume")
      ->check(CLI::PositiveNumber);
  c->add_option("--init", o->init, "Start from this model file (overrides the recipe's \"init\")")
      ->check(CLI::ExistingFile);
  c->add_option("--teacher", o->teacher,
                "Distillation teacher model file (overrides the recipe's \"teacher\")")
      ->check(CLI::ExistingFile);
  c->add_option("--threads", o->threads, "libtorch threads per process (0: cores / processes)");
  c->add_option("--nproc", o->nproc, "Data-parallel processes on this machine")
      ->check(CLI::Range(1, 64));
  c->add_option("--rank", o->rank, "This process's rank (multi-machine runs; see --nproc)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--world-size", o->world_size, "Number of ranks (multi-machine runs)")
      ->check(CLI::Range(1, 4096));
  c->add_option("--master", o->master,
                "host:port of rank 0's rendezvous store (multi-machine runs)");
  c->callback([o] {
    std::ifstream in(o->recipe);
    json r;
    try {
      r = json::parse(in);
    } catch (const json::exception& e) {
      fail(o->recipe, ": invalid JSON: ", e.what());
    }
    if (o->nproc > 1 && o->world_size > 1)
      fail("afm train: give --nproc (one machine) or --rank/--world-size/--master, not both");
    const int procs = std::max(o->nproc, o->world_size);
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(o->threads > 0 ? o->threads : std::max(1, hw / procs));
    std::vector<pid_t> children;
    std::optional<train::process_group> group;
    if (procs > 1) {
      std::string master = o->master;
      if (o->nproc > 1) {
        master = "127.0.0.1:" + std::to_string(train::free_local_port());
        children = spawn_ranks(o->nproc, master);
      }
      const size_t colon = master.rfind(':');
      if (colon == std::string::npos)
        fail("afm train: --master must be host:port, not '", master, "'");
      group = train::join_process_group(master.substr(0, colon),
                                        static_cast<uint16_t>(std::stoi(master.substr(colon + 1))),
                                        o->nproc > 1 ? 0 : o->rank, procs);
    }
    run_args a;
    a.out = o->out.empty() ? "runs/" + fs::path(o->recipe).stem().string() : o->out;
    a.init = o->init;
    a.teacher = o->teacher;
    a.steps = o->steps;
    a.stop_at = o->stop_at;
    a.group = group ? &*group : nullptr;
    try {
      run_recipe(r, fs::path(o->recipe).parent_path(), a);
    } catch (const json::exception& e) {
      fail(o->recipe, ": ", e.what());
    }
    for (pid_t pid : children) {
      int status = 0;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("afm train: rank process ", pid, " failed");
    }
  });
}

}  // namespace afm::cli
