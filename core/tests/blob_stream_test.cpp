// Streaming blobs from the Registry port (core/blob_stream.h): verified
// while written, bounded in memory, nothing half-written left behind; the
// port's default OpenBlob; incremental hashing (DigestHasher).
#include "core/blob_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "core/fetch_slots.h"
#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

Reference Ref() { return Reference::Parse("models/stream:v1").value(); }

// Bytes unique to their index, so a misplaced chunk changes the digest.
std::string Pattern(size_t size_bytes) {
  std::string bytes(size_bytes, '\0');
  for (size_t i = 0; i < size_bytes; ++i) bytes[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return bytes;
}

// Serves `bytes` for any digest, as a stream whose reads it records: the
// largest max_bytes asked, the reads made, the bytes handed out. A test
// sets a read (1-based) to fail, or a hook to run at a read.
class ScriptedRegistry final : public Registry {
 public:
  explicit ScriptedRegistry(std::string bytes) : bytes_(std::move(bytes)) {}

  Result<Digest> Resolve(const CancelToken&, const Reference&) override {
    return Status(Code::kUnsupported, "scripted registry: no resolve");
  }
  Result<std::string> FetchManifest(const CancelToken&, const Reference&, const Digest&) override {
    return Status(Code::kUnsupported, "scripted registry: no manifests");
  }
  Result<std::string> FetchBlob(const CancelToken&, const Reference&, const Digest&) override {
    return bytes_;
  }
  Result<std::unique_ptr<BlobReader>> OpenBlob(const CancelToken&, const Reference&,
                                               const Digest&) override {
    ++opens;
    if (on_open) on_open();
    return std::unique_ptr<BlobReader>(std::make_unique<Reader>(this));
  }

  int opens = 0;
  int reads = 0;
  size_t max_bytes_asked = 0;
  uint64_t bytes_served = 0;
  int fail_at_read = 0;  // 0: never
  Code fail_code = Code::kUnavailable;
  std::function<void(int read)> on_read;
  std::function<void()> on_open;
  int readers_alive = 0;

 private:
  class Reader final : public BlobReader {
   public:
    explicit Reader(ScriptedRegistry* registry) : registry_(registry) { ++registry_->readers_alive; }
    ~Reader() override { --registry_->readers_alive; }
    Result<std::string> Read(const CancelToken&, size_t max_bytes) override {
      ScriptedRegistry& r = *registry_;
      const int read = ++r.reads;
      r.max_bytes_asked = std::max(r.max_bytes_asked, max_bytes);
      if (r.on_read) r.on_read(read);
      if (read == r.fail_at_read) return Status(r.fail_code, "scripted failure at read " + std::to_string(read));
      const size_t n = std::min(max_bytes, r.bytes_.size() - position_);
      std::string chunk = r.bytes_.substr(position_, n);
      position_ += n;
      r.bytes_served += n;
      return chunk;
    }

   private:
    ScriptedRegistry* registry_;
    size_t position_ = 0;
  };

  std::string bytes_;
};

class BlobStreamTest : public ::testing::Test {
 protected:
  Status Stream(ScriptedRegistry* registry, const Digest& digest, uint64_t size_bytes,
                size_t chunk_bytes, FetchSlots* slots = nullptr, bool durable = true) {
    return StreamBlobToFile(&fs_, &runtime_, registry, token_, Ref(), digest, size_bytes, path_,
                            0444, durable, slots, "layer 0", chunk_bytes);
  }
  bool FileExists() { return Exists(&fs_, path_).value(); }

  TempDir tmp_;
  const std::string path_ = tmp_.path() + "/blob";
  PosixFilesystem fs_;
  ThreadRuntime runtime_;
  CancelToken token_;
};

TEST_F(BlobStreamTest, AGoodBlobLandsWithItsModeAndBytes) {
  const std::string bytes = Pattern(1000);
  ScriptedRegistry registry(bytes);
  ASSERT_TRUE(Stream(&registry, Digest::Sha256Of(bytes), bytes.size(), 64).ok());
  EXPECT_EQ(fs_.ReadFile(path_, 1 << 20).value(), bytes);
  EXPECT_EQ(fs_.Stat(path_).value().mode, 0444u);
  EXPECT_EQ(registry.reads, 17);  // 16 chunks of 64 (the last one short), then the end
}

TEST_F(BlobStreamTest, AnEmptyBlobLandsAsAnEmptyFile) {
  ScriptedRegistry registry("");
  ASSERT_TRUE(Stream(&registry, Digest::Sha256Of(""), 0, 64).ok());
  EXPECT_EQ(fs_.Stat(path_).value().size_bytes, 0u);
}

TEST_F(BlobStreamTest, NeverAsksMoreThanChunkBytesOfTheRegistry) {
  const std::string bytes = Pattern(64 * 1024 + 5);
  ScriptedRegistry registry(bytes);
  ASSERT_TRUE(Stream(&registry, Digest::Sha256Of(bytes), bytes.size(), 4096).ok());
  EXPECT_EQ(registry.max_bytes_asked, 4096u);
  EXPECT_GE(registry.reads, 17);
}

TEST_F(BlobStreamTest, AnOverLongAnswerIsRefusedBeforeItIsAllWritten) {
  const std::string bytes = Pattern(10 * 64);
  ScriptedRegistry registry(bytes);
  const Status status = Stream(&registry, Digest::Sha256Of(bytes.substr(0, 128)), 128, 64);
  EXPECT_EQ(status.code(), Code::kCorrupt);
  EXPECT_EQ(status.message(), "layer 0: blob is at least 129 bytes, descriptor says 128");
  // Two full chunks, then one byte past the size: never the rest.
  EXPECT_EQ(registry.bytes_served, 129u);
  EXPECT_FALSE(FileExists());
}

TEST_F(BlobStreamTest, AShortAnswerIsRefusedAndLeavesNoFile) {
  const std::string bytes = Pattern(100);
  ScriptedRegistry registry(bytes);
  const Status status = Stream(&registry, Digest::Sha256Of(bytes + "x"), 101, 64);
  EXPECT_EQ(status.code(), Code::kCorrupt);
  EXPECT_EQ(status.message(), "layer 0: blob is 100 bytes, descriptor says 101");
  EXPECT_FALSE(FileExists());
}

TEST_F(BlobStreamTest, AWrongDigestIsRefusedAndLeavesNoFile) {
  const std::string bytes = Pattern(100);
  ScriptedRegistry registry(bytes);
  const Status status = Stream(&registry, Digest::Sha256Of("other"), 100, 64);
  EXPECT_EQ(status.code(), Code::kCorrupt);
  EXPECT_EQ(status.message(), "layer 0: blob content hashes to " + Digest::Sha256Of(bytes).ToString());
  EXPECT_FALSE(FileExists());
}

TEST_F(BlobStreamTest, AMidStreamUnavailableLeavesNoFile) {
  const std::string bytes = Pattern(1000);
  ScriptedRegistry registry(bytes);
  registry.fail_at_read = 3;
  const Status status = Stream(&registry, Digest::Sha256Of(bytes), bytes.size(), 64);
  EXPECT_EQ(status.code(), Code::kUnavailable);
  EXPECT_EQ(status.message(), "layer 0: scripted failure at read 3");
  EXPECT_FALSE(FileExists());
}

TEST_F(BlobStreamTest, CancellationBetweenChunksStopsTheStreamAndLeavesNoFile) {
  const std::string bytes = Pattern(1000);
  ScriptedRegistry registry(bytes);
  registry.on_read = [&](int read) {
    if (read == 2) token_.Cancel();
  };
  const Status status = Stream(&registry, Digest::Sha256Of(bytes), bytes.size(), 64);
  EXPECT_EQ(status.code(), Code::kCanceled);
  EXPECT_EQ(registry.reads, 2);  // checked before the third read
  EXPECT_FALSE(FileExists());
}

TEST_F(BlobStreamTest, AFailedAppendLeavesNoFile) {
  class FailingAppendFs final : public FilesystemWrapper {
   public:
    using FilesystemWrapper::FilesystemWrapper;
    Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p, uint32_t m) override {
      MS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, FilesystemWrapper::NewWritableFile(p, m));
      return std::unique_ptr<WritableFile>(std::make_unique<FullDisk>(std::move(file)));
    }

   private:
    class FullDisk final : public WritableFile {
     public:
      explicit FullDisk(std::unique_ptr<WritableFile> target) : target_(std::move(target)) {}
      Status Append(std::string_view bytes) override {
        if (++appends_ == 3) return Status(Code::kNoSpace, "injected ENOSPC");
        return target_->Append(bytes);
      }
      Status Sync() override { return target_->Sync(); }
      Status Close() override { return target_->Close(); }

     private:
      std::unique_ptr<WritableFile> target_;
      int appends_ = 0;
    };
  } fs(&fs_);
  const std::string bytes = Pattern(1000);
  ScriptedRegistry registry(bytes);
  const Status status = StreamBlobToFile(&fs, &runtime_, &registry, token_, Ref(), Digest::Sha256Of(bytes),
                                         bytes.size(), path_, 0444, false, nullptr, "layer 0", 64);
  EXPECT_EQ(status.code(), Code::kNoSpace);
  EXPECT_FALSE(FileExists());
}

TEST_F(BlobStreamTest, AnExistingFileIsAlreadyExistsAndLeftAlone) {
  ASSERT_TRUE(WriteFileAtomic(&fs_, path_, "kept", 0644).ok());
  const std::string bytes = Pattern(100);
  ScriptedRegistry registry(bytes);
  EXPECT_EQ(Stream(&registry, Digest::Sha256Of(bytes), 100, 64).code(), Code::kAlreadyExists);
  EXPECT_EQ(fs_.ReadFile(path_, 100).value(), "kept");
  EXPECT_EQ(registry.opens, 0);  // refused before any fetch
}

TEST_F(BlobStreamTest, HoldsAFetchSlotFromBeforeTheOpenUntilTheStreamEnds) {
  ASSERT_TRUE(fs_.MakeDir(tmp_.path() + "/locks", 0755).ok());
  FetchSlots slots(&fs_, &runtime_, tmp_.path() + "/locks", 1, 1);
  const std::string bytes = Pattern(300);
  ScriptedRegistry registry(bytes);
  auto slot_held = [&] { return fs_.TryLockFile(slots.SlotPath(0)).code() == Code::kUnavailable; };
  bool held_at_open = false;
  bool held_at_every_read = true;
  registry.on_open = [&] { held_at_open = slot_held(); };
  registry.on_read = [&](int) { held_at_every_read = held_at_every_read && slot_held(); };
  ASSERT_TRUE(Stream(&registry, Digest::Sha256Of(bytes), bytes.size(), 64, &slots).ok());
  EXPECT_TRUE(held_at_open);
  EXPECT_TRUE(held_at_every_read);
  EXPECT_FALSE(slot_held());
  EXPECT_EQ(registry.readers_alive, 0);
}

TEST_F(BlobStreamTest, ReadBlobVerifiedReturnsTheBytes) {
  const std::string bytes = Pattern(1000);
  ScriptedRegistry registry(bytes);
  const Result<std::string> got = ReadBlobVerified(&runtime_, &registry, token_, Ref(), Digest::Sha256Of(bytes),
                                                   bytes.size(), nullptr, "config", 64);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, bytes);
  EXPECT_EQ(registry.max_bytes_asked, 64u);
}

TEST_F(BlobStreamTest, ReadBlobVerifiedReadsAtMostOneBytePastTheSize) {
  const std::string bytes = Pattern(100'000);
  ScriptedRegistry registry(bytes);
  const Result<std::string> got = ReadBlobVerified(&runtime_, &registry, token_, Ref(), Digest::Sha256Of("x"), 10,
                                                   nullptr, "config", 64);
  EXPECT_EQ(got.code(), Code::kCorrupt);
  EXPECT_EQ(got.status().message(), "config: blob is at least 11 bytes, descriptor says 10");
  EXPECT_EQ(registry.bytes_served, 11u);
}

TEST_F(BlobStreamTest, ReadBlobVerifiedRefusesAWrongDigest) {
  const std::string bytes = Pattern(100);
  ScriptedRegistry registry(bytes);
  const Result<std::string> got = ReadBlobVerified(&runtime_, &registry, token_, Ref(), Digest::Sha256Of("x"), 100,
                                                   nullptr, "config", 64);
  EXPECT_EQ(got.code(), Code::kCorrupt);
  EXPECT_EQ(got.status().message(), "config: blob content hashes to " + Digest::Sha256Of(bytes).ToString());
}

// A registry that implements only the three whole-answer calls.
class WholeBlobRegistry final : public Registry {
 public:
  explicit WholeBlobRegistry(std::string bytes) : bytes_(std::move(bytes)) {}
  Result<Digest> Resolve(const CancelToken&, const Reference&) override { return Digest(); }
  Result<std::string> FetchManifest(const CancelToken&, const Reference&, const Digest&) override {
    return std::string();
  }
  Result<std::string> FetchBlob(const CancelToken&, const Reference&, const Digest&) override {
    ++fetches;
    if (fail) return Status(Code::kNotFound, "no such blob");
    return bytes_;
  }
  int fetches = 0;
  bool fail = false;

 private:
  std::string bytes_;
};

TEST(RegistryOpenBlobDefault, HandsOutFetchBlobsBytesInChunks) {
  WholeBlobRegistry registry(Pattern(100));
  const CancelToken token;
  auto reader = registry.OpenBlob(token, Ref(), Digest());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::string got;
  int chunks = 0;
  for (;;) {
    const Result<std::string> chunk = (*reader)->Read(token, 30);
    ASSERT_TRUE(chunk.ok());
    ASSERT_LE(chunk->size(), 30u);
    if (chunk->empty()) break;
    got += *chunk;
    ++chunks;
  }
  EXPECT_EQ(got, Pattern(100));
  EXPECT_EQ(chunks, 4);
  EXPECT_EQ(registry.fetches, 1);
  EXPECT_TRUE((*reader)->Read(token, 30)->empty());  // and stays ended
}

TEST(RegistryOpenBlobDefault, FetchBlobsErrorComesFromTheOpen) {
  WholeBlobRegistry registry("x");
  registry.fail = true;
  EXPECT_EQ(registry.OpenBlob(CancelToken(), Ref(), Digest()).code(), Code::kNotFound);
}

TEST(DigestHasher, PiecesHashAsTheWhole) {
  const std::string bytes = Pattern(10'000);
  for (DigestAlgorithm algorithm : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    DigestHasher hasher(algorithm);
    for (size_t at = 0; at < bytes.size(); at += 333) hasher.Update(std::string_view(bytes).substr(at, 333));
    EXPECT_EQ(hasher.size_bytes(), bytes.size());
    const Digest whole = algorithm == DigestAlgorithm::kSha256 ? Digest::Sha256Of(bytes) : Digest::Sha512Of(bytes);
    EXPECT_EQ(hasher.Finish(), whole);
  }
}

TEST(DigestHasher, FinishStartsOver) {
  DigestHasher hasher(DigestAlgorithm::kSha256);
  hasher.Update("abc");
  EXPECT_EQ(hasher.Finish(), Digest::Sha256Of("abc"));
  EXPECT_EQ(hasher.Finish(), Digest::Sha256Of(""));
}

}  // namespace
}  // namespace ms::testing
