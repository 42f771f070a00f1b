//===- DocumentReader.cpp - the documents of a corpus file ----------------===//
#include "DocumentReader.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <zlib.h>
#include <zstd.h>

using namespace shear;
using llvm::Error;

namespace {
Error fileError(const std::string &file, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), (file + ": " + what).str());
}

/// Decompressed bytes of a file: plain or gzip through zlib (which passes
/// plain files through), zstd through libzstd's streaming decoder.
class ByteSource {
public:
  static llvm::Expected<std::unique_ptr<ByteSource>> open(const std::string &path) {
    auto s = std::unique_ptr<ByteSource>(new ByteSource(path));
    s->file_ = std::fopen(path.c_str(), "rb");
    if (!s->file_)
      return fileError(path, "cannot read: " + llvm::Twine(std::strerror(errno)));
    unsigned char magic[4] = {0, 0, 0, 0};
    size_t got = std::fread(magic, 1, 4, s->file_);
    std::rewind(s->file_);
    s->zstd_ = got == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
               magic[3] == 0xfd;
    if (s->zstd_) {
      s->dctx_ = ZSTD_createDCtx();
      s->in_.resize(ZSTD_DStreamInSize());
    } else {
      std::fclose(s->file_);
      s->file_ = nullptr;
      s->gz_ = gzopen(path.c_str(), "rb");
      if (!s->gz_)
        return fileError(path, "cannot read");
      gzbuffer(s->gz_, 1 << 17);
    }
    return s;
  }
  ~ByteSource() {
    if (gz_)
      gzclose(gz_);
    if (dctx_)
      ZSTD_freeDCtx(dctx_);
    if (file_)
      std::fclose(file_);
  }
  /// Up to `n` bytes; 0 at the end.
  llvm::Expected<size_t> read(char *out, size_t n) {
    if (!zstd_) {
      int k = gzread(gz_, out, static_cast<unsigned>(std::min<size_t>(n, 1 << 30)));
      if (k < 0)
        return fileError(path_, "corrupt compressed data");
      // The gzip layer may report a truncated stream only as an early end.
      if (k == 0) {
        int code = 0;
        const char *msg = gzerror(gz_, &code);
        if (code != Z_OK && code != Z_STREAM_END) {
          llvm::StringRef why(msg); // "PATH: what"
          return fileError(path_, "corrupt compressed data (" + why.rsplit(": ").second + ")");
        }
      }
      return static_cast<size_t>(k);
    }
    ZSTD_outBuffer o{out, n, 0};
    while (o.pos == 0) {
      if (inBuf_.pos == inBuf_.size) {
        size_t k = std::fread(in_.data(), 1, in_.size(), file_);
        diskBytes_ += k;
        if (k == 0) {
          if (lastResult_ != 0) // the file ends inside a frame
            return fileError(path_, "truncated zstd data (the file ends inside a compressed frame)");
          return 0;
        }
        inBuf_ = {in_.data(), k, 0};
      }
      size_t r = ZSTD_decompressStream(dctx_, &o, &inBuf_);
      if (ZSTD_isError(r))
        return fileError(path_, llvm::Twine("corrupt zstd data (") + ZSTD_getErrorName(r) + ")");
      lastResult_ = r;
    }
    return o.pos;
  }
  int64_t diskBytes() const { return zstd_ ? diskBytes_ : static_cast<int64_t>(gzoffset(gz_)); }

private:
  explicit ByteSource(std::string path) : path_(std::move(path)) {}
  std::string path_;
  FILE *file_ = nullptr;
  gzFile gz_ = nullptr;
  bool zstd_ = false;
  ZSTD_DCtx *dctx_ = nullptr;
  std::vector<char> in_;
  ZSTD_inBuffer inBuf_{nullptr, 0, 0};
  size_t lastResult_ = 0;
  int64_t diskBytes_ = 0;
};

bool endsWith(const std::string &s, const char *suffix) {
  return llvm::StringRef(s).ends_with(suffix);
}
} // namespace

CorpusFormat shear::formatOf(const std::string &path, CorpusFormat requested) {
  if (requested != CorpusFormat::Auto)
    return requested;
  for (const char *s : {".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json.zst"})
    if (endsWith(path, s))
      return CorpusFormat::JsonLines;
  return CorpusFormat::Text;
}

Error shear::readDocuments(const std::string &path, const ReadOptions &options, ReadStats &stats,
                           llvm::function_ref<bool(llvm::StringRef)> each) {
  auto source = ByteSource::open(path);
  if (!source)
    return source.takeError();
  CorpusFormat format = formatOf(path, options.format);
  bool jsonl = format == CorpusFormat::JsonLines || format == CorpusFormat::RawLines;
  std::string buffer;
  size_t start = 0; // the unread part of `buffer` starts here
  bool eof = false, going = true;
  int64_t line = 0;
  std::vector<char> chunk(1 << 17);
  auto fill = [&]() -> Error {
    if (start > 0 && start * 2 > buffer.size()) { // drop what was used
      buffer.erase(0, start);
      start = 0;
    }
    auto n = (*source)->read(chunk.data(), chunk.size());
    if (!n)
      return n.takeError();
    if (*n == 0) {
      eof = true;
      return Error::success();
    }
    if (!jsonl && std::memchr(chunk.data(), '\0', *n))
      return fileError(path, "binary data, not text (narrow the domain with :GLOB patterns)");
    buffer.append(chunk.data(), *n);
    stats.bytes += static_cast<int64_t>(*n);
    return Error::success();
  };
  auto emit = [&](llvm::StringRef doc) {
    ++stats.documents;
    stats.textBytes += static_cast<int64_t>(doc.size());
    going = each(doc);
  };

  if (!jsonl) {
    // Pieces of about `limit` bytes cut at a blank line between limit/2 and
    // 2·limit, else at `limit`: decided once 2·limit + 2 bytes are in view.
    const size_t limit = 64 << 10;
    while (going) {
      while (!eof && buffer.size() - start < 2 * limit + 2)
        if (Error e = fill())
          return e;
      size_t left = buffer.size() - start;
      if (left == 0)
        break;
      size_t end = buffer.size();
      if (left > limit) {
        size_t cut = buffer.find("\n\n", start + limit / 2);
        end = cut == std::string::npos || cut > start + 2 * limit
                  ? std::min(buffer.size(), start + limit)
                  : cut + 2;
      }
      emit(llvm::StringRef(buffer).slice(start, end));
      start = end;
    }
  } else {
    auto malformed = [&](const llvm::Twine &what) -> Error {
      ++stats.malformed;
      std::string where = path + ":" + std::to_string(line) + ": " + what.str();
      if (options.strict)
        return llvm::createStringError(llvm::inconvertibleErrorCode(), where);
      if (stats.examples.size() < 5)
        stats.examples.push_back(where);
      return Error::success();
    };
    while (going) {
      size_t nl = buffer.find('\n', start);
      while (nl == std::string::npos && !eof) {
        size_t searched = buffer.size() - start;
        if (Error e = fill())
          return e;
        nl = buffer.find('\n', start + searched);
      }
      if (nl == std::string::npos && start == buffer.size())
        break;
      size_t end = nl == std::string::npos ? buffer.size() : nl;
      llvm::StringRef text = llvm::StringRef(buffer).slice(start, end).rtrim("\r");
      start = nl == std::string::npos ? buffer.size() : nl + 1;
      ++line;
      if (format == CorpusFormat::RawLines) { // every line, so callers can count them
        emit(text);
        continue;
      }
      if (text.trim().empty())
        continue;
      auto value = llvm::json::parse(text);
      if (!value) {
        std::string why = llvm::toString(value.takeError());
        if (Error e = malformed("not JSON (" + why + ")"))
          return e;
        continue;
      }
      const llvm::json::Object *o = value->getAsObject();
      std::optional<llvm::StringRef> field = o ? o->getString(options.textField) : std::nullopt;
      if (!field) {
        if (Error e = malformed("no string field '" + options.textField + "'"))
          return e;
        continue;
      }
      emit(*field);
    }
  }
  stats.fileBytes += (*source)->diskBytes();
  return Error::success();
}
