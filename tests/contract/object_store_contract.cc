// The ObjectStore contract (storage/object_store.h), run against every backend
// listed in backend.cc. Each case gets a fresh, empty store.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <latch>
#include <map>
#include <ostream>
#include <random>
#include <thread>
#include <vector>

#include "backend.h"
#include "base/io.h"
#include "storage/object_store.h"

namespace walship::contract {

// Names the backend in gtest output instead of printing the pointer.
void PrintTo(BackendFactory* b, std::ostream* os) { *os << b->Name(); }

namespace {

using storage::ObjectInfo;
using storage::ObjectStore;
using storage::PutOptions;

// Starts each backend once, on first use, and stops the started ones at exit.
class BackendLifecycle : public ::testing::Environment {
 public:
  static Status EnsureStarted(BackendFactory* b) {
    auto it = started().find(b);
    if (it == started().end()) it = started().emplace(b, b->SetUp()).first;
    return it->second;
  }
  void TearDown() override {
    for (auto& [b, status] : started()) {
      if (status.ok()) b->TearDown();
    }
    started().clear();
  }

 private:
  static std::map<BackendFactory*, Status>& started() {
    static std::map<BackendFactory*, Status> m;
    return m;
  }
};
[[maybe_unused]] ::testing::Environment* const kLifecycle = ::testing::AddGlobalTestEnvironment(new BackendLifecycle);

// Deterministic bytes including 0x00 and 0xff.
std::string Pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng() & 0xff);
  return s;
}

// Hands out its data in chunks of varying, small sizes.
class ChunkedSource final : public Source {
 public:
  explicit ChunkedSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(void* buf, size_t n) override {
    size_t k = std::min({n, data_.size() - pos_, size_t(1 + (calls_++ * 7919) % 5000)});
    std::copy_n(data_.data() + pos_, k, static_cast<char*>(buf));
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
  size_t calls_ = 0;
};

// Returns `good` bytes of data, then fails.
class FailingSource final : public Source {
 public:
  FailingSource(std::string data, size_t good) : data_(std::move(data)), good_(good) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (pos_ >= good_) return IOError("injected read failure");
    size_t k = std::min(n, good_ - pos_);
    std::copy_n(data_.data() + pos_, k, static_cast<char*>(buf));
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t good_;
  size_t pos_ = 0;
};

std::string ReadAll(Source* src, size_t chunk) {
  std::string out;
  std::string buf(chunk, '\0');
  for (;;) {
    auto n = src->Read(buf.data(), buf.size());
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) break;
    out.append(buf.data(), *n);
  }
  return out;
}

std::vector<std::string> KeysOf(const std::vector<ObjectInfo>& infos) {
  std::vector<std::string> keys;
  for (const ObjectInfo& i : infos) keys.push_back(i.key);
  return keys;
}

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

class ObjectStoreContract : public ::testing::TestWithParam<BackendFactory*> {
 protected:
  void SetUp() override {
    Status s = BackendLifecycle::EnsureStarted(GetParam());
    if (s.code() == Code::kFailedPrecondition) GTEST_SKIP() << GetParam()->Name() << ": " << s.ToString();
    ASSERT_TRUE(s.ok()) << GetParam()->Name() << " set-up: " << s.ToString();
    auto store = GetParam()->NewStore();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    if (store_ == nullptr) return;
    store_.reset();
    GetParam()->DestroyStore();
  }

  void Put(const std::string& key, const std::string& data, PutOptions opts = {}) {
    Status s = store_->PutBytes(key, data, opts);
    ASSERT_TRUE(s.ok()) << Printable(key) << ": " << s.ToString();
  }
  std::string Get(const std::string& key, uint64_t offset = 0, std::optional<uint64_t> length = std::nullopt) {
    auto r = store_->GetBytes(key, offset, length);
    EXPECT_TRUE(r.ok()) << Printable(key) << ": " << r.status().ToString();
    return r.ok() ? *r : std::string();
  }
  std::vector<std::string> ListKeys(const std::string& prefix, const std::string& start_after = "") {
    auto r = store_->List(prefix, start_after);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? KeysOf(*r) : std::vector<std::string>{};
  }
  void ExpectNotFound(const std::string& key) {
    EXPECT_EQ(store_->Head(key).status().code(), Code::kNotFound) << Printable(key);
    EXPECT_EQ(store_->Open(key).status().code(), Code::kNotFound) << Printable(key);
  }

  std::shared_ptr<ObjectStore> store_;
};

TEST_P(ObjectStoreContract, PutThenGetReturnsTheSameBytes) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{(1 << 20) + 17}}) {
    const std::string key = "obj/size-" + std::to_string(size);
    const std::string data = Pattern(size, uint32_t(size));
    ChunkedSource body(data);
    ASSERT_TRUE(store_->Put(key, &body, size, PutOptions{}).ok()) << key;
    EXPECT_EQ(Get(key), data) << key;
    auto head = store_->Head(key);
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_EQ(head->key, key);
    EXPECT_EQ(head->size, size);
  }
}

TEST_P(ObjectStoreContract, OpenStreamsInSmallReads) {
  const std::string data = Pattern(100000, 7);
  Put("stream/a", data);
  auto src = store_->Open("stream/a");
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ(ReadAll(src->get(), 7), data);
}

TEST_P(ObjectStoreContract, RangedGetReturnsTheRequestedSlice) {
  const std::string data = Pattern(10000, 11);
  Put("range/obj", data);
  EXPECT_EQ(Get("range/obj", 100, 50), data.substr(100, 50));  // middle
  EXPECT_EQ(Get("range/obj", 0, 1), data.substr(0, 1));        // first byte
  EXPECT_EQ(Get("range/obj", 100), data.substr(100));          // to the end
  EXPECT_EQ(Get("range/obj", 9999), data.substr(9999));        // last byte
  EXPECT_EQ(Get("range/obj", 9990, 100), data.substr(9990));   // length past the end
  EXPECT_EQ(Get("range/obj", 10000), "");                      // offset at the end
  EXPECT_EQ(Get("range/obj", 10000, 5), "");
  EXPECT_EQ(Get("range/obj", 20000), "");  // offset past the end
  EXPECT_EQ(Get("range/obj", 50, 0), "");  // empty range
  EXPECT_EQ(Get("range/obj", 0, 10000), data);
}

TEST_P(ObjectStoreContract, FailedPutLeavesNothingVisible) {
  const std::string data = Pattern(300000, 3);
  for (size_t good : {size_t{0}, size_t{1000}, size_t{299999}}) {
    FailingSource body(data, good);
    Status s = store_->Put("fail/obj", &body, data.size(), PutOptions{});
    EXPECT_FALSE(s.ok()) << "after " << good << " bytes";
    ExpectNotFound("fail/obj");
    EXPECT_TRUE(ListKeys("").empty());
  }
  // Nothing left behind blocks a later put of the same key.
  Put("fail/obj", data);
  EXPECT_EQ(Get("fail/obj"), data);
  EXPECT_EQ(ListKeys(""), std::vector<std::string>{"fail/obj"});
}

TEST_P(ObjectStoreContract, ShortBodyFailsAndLeavesNothingVisible) {
  StringSource body(std::string(60, 'x'));
  Status s = store_->Put("short/obj", &body, 100, PutOptions{});
  EXPECT_FALSE(s.ok());
  ExpectNotFound("short/obj");
  EXPECT_TRUE(ListKeys("").empty());
}

TEST_P(ObjectStoreContract, FailedOverwriteKeepsTheOriginal) {
  Put("over/obj", "original");
  FailingSource body(Pattern(5000, 1), 2000);
  PutOptions opts;
  opts.no_overwrite = false;
  EXPECT_FALSE(store_->Put("over/obj", &body, 5000, opts).ok());
  EXPECT_EQ(Get("over/obj"), "original");
  EXPECT_EQ(ListKeys(""), std::vector<std::string>{"over/obj"});
}

TEST_P(ObjectStoreContract, NoOverwriteRefusesAndKeepsTheOriginalBytes) {
  PutOptions first;
  first.timestamp_ms = 1'600'000'000'000;
  Put("k/obj", "original", first);
  PutOptions second;  // no_overwrite is the default
  second.timestamp_ms = 1'700'000'000'000;
  Status s = store_->PutBytes("k/obj", "a longer replacement", second);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_EQ(Get("k/obj"), "original");
  auto head = store_->Head("k/obj");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 8u);
  EXPECT_EQ(head->mtime_ms, first.timestamp_ms);
  EXPECT_EQ(ListKeys(""), std::vector<std::string>{"k/obj"});
}

TEST_P(ObjectStoreContract, OverwriteReplacesWhenAllowed) {
  Put("k/obj", "original");
  PutOptions opts;
  opts.no_overwrite = false;
  Put("k/obj", "replacement", opts);
  EXPECT_EQ(Get("k/obj"), "replacement");
  EXPECT_EQ(ListKeys(""), std::vector<std::string>{"k/obj"});
}

// Keys sharing prefixes, where '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < '0'
// makes directory order differ from key order, plus bytes >= 0x80.
const std::vector<std::string>& OrderingKeys() {
  static const std::vector<std::string> keys = {
      "db/0000/0000000000000001-0000000000000001.ltx",
      "db/0000/0000000000000002-0000000000000002.ltx",
      "db/00000/x",
      "db/0001/0000000000000001-0000000000000002.ltx",
      "db-2/0000/a",
      "db.x/y",
      "db0/x",
      "dc",
      "d/x",
      "ltx/0/a",
      "ltx/10/a",
      "ltx/9/a",
      "Z",
      "a b/c",
      "z~",
      "\xc3\xa9t\xc3\xa9/x",
  };
  return keys;
}

class Populated : public ObjectStoreContract {
 protected:
  void SetUp() override {
    ObjectStoreContract::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::vector<std::string> shuffled = OrderingKeys();
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
    for (const std::string& k : shuffled) Put(k, "value of " + k);
    sorted_ = OrderingKeys();
    std::sort(sorted_.begin(), sorted_.end());
  }
  // What List must return: the sorted keys with the prefix, after start_after.
  std::vector<std::string> Expected(const std::string& prefix, const std::string& start_after) {
    std::vector<std::string> out;
    for (const std::string& k : sorted_) {
      if (k.compare(0, prefix.size(), prefix) == 0 && k > start_after) out.push_back(k);
    }
    return out;
  }
  std::vector<std::string> sorted_;
};

size_t IndexOf(const std::vector<std::string>& v, const std::string& k) {
  return size_t(std::find(v.begin(), v.end(), k) - v.begin());
}

TEST_P(Populated, ListReturnsKeysInBytewiseOrder) {
  auto all = store_->List("");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  const std::vector<std::string> keys = KeysOf(*all);
  EXPECT_EQ(keys, sorted_);
  ASSERT_EQ(keys.size(), OrderingKeys().size());
  // Spelled out, so the test does not only trust std::sort.
  EXPECT_LT(IndexOf(keys, "db-2/0000/a"), IndexOf(keys, "db.x/y"));
  EXPECT_LT(IndexOf(keys, "db.x/y"), IndexOf(keys, "db/0000/0000000000000001-0000000000000001.ltx"));
  EXPECT_LT(IndexOf(keys, "db/0000/0000000000000002-0000000000000002.ltx"), IndexOf(keys, "db/00000/x"));
  EXPECT_LT(IndexOf(keys, "db/0001/0000000000000001-0000000000000002.ltx"), IndexOf(keys, "db0/x"));
  EXPECT_LT(IndexOf(keys, "ltx/10/a"), IndexOf(keys, "ltx/9/a"));
  EXPECT_LT(IndexOf(keys, "Z"), IndexOf(keys, "a b/c"));
  EXPECT_EQ(keys.front(), "Z");
  EXPECT_EQ(keys.back(), "\xc3\xa9t\xc3\xa9/x");  // bytes compare unsigned
  for (const ObjectInfo& i : *all) EXPECT_EQ(i.size, ("value of " + i.key).size()) << Printable(i.key);
}

TEST_P(Populated, ListFiltersByPrefix) {
  EXPECT_EQ(ListKeys("db/"), (std::vector<std::string>{
                                 "db/0000/0000000000000001-0000000000000001.ltx",
                                 "db/0000/0000000000000002-0000000000000002.ltx",
                                 "db/00000/x",
                                 "db/0001/0000000000000001-0000000000000002.ltx",
                             }));
  EXPECT_EQ(ListKeys("db/0000/"), (std::vector<std::string>{
                                      "db/0000/0000000000000001-0000000000000001.ltx",
                                      "db/0000/0000000000000002-0000000000000002.ltx",
                                  }));
  EXPECT_EQ(ListKeys("ltx/1"), std::vector<std::string>{"ltx/10/a"});
  for (const std::string prefix : {"",
                                   "d",
                                   "db",
                                   "db/",
                                   "db/0",
                                   "db/000",
                                   "db/0000",
                                   "db/0000/",
                                   "db/0000/0000000000000001",
                                   "db/0000/0000000000000001-0000000000000001.ltx",
                                   "db-",
                                   "db.",
                                   "db0",
                                   "dc",
                                   "ltx/",
                                   "ltx/9/a",
                                   "Z",
                                   "a b/",
                                   "\xc3\xa9",
                                   "nope/",
                                   "dbz",
                                   "db//",
                                   "/",
                                   "../",
                                   "./db",
                                   "db/0000/0000000000000001-0000000000000001.ltx/"}) {
    EXPECT_EQ(ListKeys(prefix), Expected(prefix, "")) << "prefix \"" << Printable(prefix) << "\"";
  }
  EXPECT_TRUE(ListKeys("nope/").empty());
  EXPECT_TRUE(ListKeys("db//").empty());
}

TEST_P(Populated, ListStartsAfterTheGivenKey) {
  EXPECT_EQ(ListKeys("db/", "db/0000/0000000000000002-0000000000000002.ltx"),
            (std::vector<std::string>{"db/00000/x", "db/0001/0000000000000001-0000000000000002.ltx"}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "db/0000/0000000000000001-0000000000000001.ltx"},  // an existing key
      {"", "db/0000/z"},                                      // between keys
      {"", "db/"},
      {"", "d"},
      {"", "db-2/0000/a"},
      {"db/", "db/"},      // equal to the prefix: all of it
      {"db/", "db/0001"},  // a prefix of a key: that key follows
      {"db/", "a"},        // before the prefix range
      {"db/", "zzz"},      // after it
      {"db", "db.x/y"},
      {"ltx/", "ltx/9/a"},  // the last key with that prefix
      {"", "\xc3\xa9"},
      {"", "\xff"},
      {"", "Z"},
  };
  for (const auto& [prefix, after] : cases) {
    EXPECT_EQ(ListKeys(prefix, after), Expected(prefix, after))
        << "prefix \"" << Printable(prefix) << "\" start_after \"" << Printable(after) << "\"";
  }
}

TEST_P(ObjectStoreContract, ListsAndDeletesThousandsOfKeys) {
  // More than one page of a paginated listing (S3: 1000 keys per page) and
  // more than one delete batch.
  constexpr int kKeys = 2500, kThreads = 4;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; i++) {
    char b[32];
    std::snprintf(b, sizeof(b), "many/%05d", i);
    keys.push_back(b);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kKeys; i += kThreads) {
        Status s = store_->PutBytes(keys[size_t(i)], std::to_string(i));
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  Put("manz", "after the prefix");
  Put("man", "before the prefix");

  auto all = store_->List("many/");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(KeysOf(*all), keys);
  for (size_t i = 0; i < all->size(); i++) EXPECT_EQ((*all)[i].size, std::to_string(i).size());

  EXPECT_EQ(ListKeys("many/", keys[999]), std::vector<std::string>(keys.begin() + 1000, keys.end()));
  EXPECT_EQ(ListKeys("many/", keys[2000]), std::vector<std::string>(keys.begin() + 2001, keys.end()));
  EXPECT_EQ(ListKeys("many/0", "many/00999"), std::vector<std::string>(keys.begin() + 1000, keys.end()));
  EXPECT_EQ(ListKeys("many/01"), std::vector<std::string>(keys.begin() + 1000, keys.begin() + 2000));
  EXPECT_EQ(ListKeys("").size(), size_t(kKeys + 2));

  ASSERT_TRUE(store_->Delete(keys).ok());
  EXPECT_TRUE(ListKeys("many/").empty());
  EXPECT_EQ(ListKeys(""), (std::vector<std::string>{"man", "manz"}));
}

TEST_P(ObjectStoreContract, DeleteRemovesABatchAndIgnoresMissingKeys) {
  for (const char* k : {"del/a", "del/b", "del/c", "del/d", "del/e"}) Put(k, k);
  Status s = store_->Delete({"del/b", "del/missing", "del/d", "del/b", "nested/missing/x"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ListKeys("del/"), (std::vector<std::string>{"del/a", "del/c", "del/e"}));
  ExpectNotFound("del/b");
  EXPECT_EQ(Get("del/c"), "del/c");
  EXPECT_TRUE(store_->Delete({}).ok());
  EXPECT_TRUE(store_->Delete({"never/existed"}).ok());
  Put("del/b", "again");  // a deleted key can be written again
  EXPECT_EQ(Get("del/b"), "again");
}

TEST_P(ObjectStoreContract, HeadReportsSizeAndTimestamp) {
  PutOptions opts;
  opts.timestamp_ms = 1'700'000'000'123;
  Put("ts/given", Pattern(1234, 5), opts);
  auto head = store_->Head("ts/given");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->key, "ts/given");
  EXPECT_EQ(head->size, 1234u);
  EXPECT_EQ(head->mtime_ms, opts.timestamp_ms);
  if (GetParam()->ListReportsTimestamps()) {
    auto listed = store_->List("ts/");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].mtime_ms, opts.timestamp_ms);
    EXPECT_EQ((*listed)[0].size, 1234u);
  }

  // Without a timestamp: the backend's modification time, about now.
  const int64_t before =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  Put("ts/none", "x");
  const int64_t after =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto head2 = store_->Head("ts/none");
  ASSERT_TRUE(head2.ok());
  EXPECT_GE(head2->mtime_ms, before - 2000);
  EXPECT_LE(head2->mtime_ms, after + 2000);
}

// Copy is optional; where the backend has it, dst becomes a byte-identical
// object carrying the new timestamp, an existing dst is refused unless
// overwriting is allowed, and a missing source is kNotFound.
TEST_P(ObjectStoreContract, CopyMakesAnIdenticalObjectWithTheNewTimestamp) {
  // A key that needs encoding in x-amz-copy-source. (Not '+' or '=': s3rver
  // decodes that header with decodeURI, which leaves %2B and %3D encoded.)
  const std::string src = "c/src dir/a b.ltx";
  const std::string data = Pattern((1 << 20) + 17, 9);
  PutOptions src_opts;
  src_opts.timestamp_ms = 1'600'000'000'000;
  Put(src, data, src_opts);
  PutOptions opts;
  opts.timestamp_ms = 1'700'000'000'456;
  Status s = store_->Copy(src, "c/dst.ltx", opts);
  if (!GetParam()->HasServerSideCopy()) {
    EXPECT_EQ(s.code(), Code::kUnimplemented) << s.ToString();
    ExpectNotFound("c/dst.ltx");
    return;
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(Get("c/dst.ltx") == data);
  auto head = store_->Head("c/dst.ltx");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(head->mtime_ms, opts.timestamp_ms);
  auto src_head = store_->Head(src);
  ASSERT_TRUE(src_head.ok());
  EXPECT_EQ(src_head->mtime_ms, src_opts.timestamp_ms);
  EXPECT_TRUE(Get(src) == data);

  Put("c/other", "original");
  s = store_->Copy(src, "c/other", opts);  // no_overwrite is the default
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_TRUE(Get("c/other") == "original");
  PutOptions overwrite;
  overwrite.no_overwrite = false;
  s = store_->Copy(src, "c/other", overwrite);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(Get("c/other") == data);

  s = store_->Copy("c/missing.ltx", "c/from-missing.ltx", opts);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  ExpectNotFound("c/from-missing.ltx");
}

TEST_P(ObjectStoreContract, ConcurrentPutsOfDistinctKeysAllLand) {
  constexpr int kThreads = 8, kPerThread = 40;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; i++) {
        const std::string key = "t" + std::to_string(t) + "/k" + std::to_string(i);
        Status s = store_->PutBytes(key, Pattern(size_t(100 * i), uint32_t(t * 1000 + i)));
        EXPECT_TRUE(s.ok()) << key << ": " << s.ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = store_->List("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), size_t(kThreads * kPerThread));
  for (int t = 0; t < kThreads; t++) {
    for (int i = 0; i < kPerThread; i++) {
      const std::string key = "t" + std::to_string(t) + "/k" + std::to_string(i);
      EXPECT_EQ(Get(key), Pattern(size_t(100 * i), uint32_t(t * 1000 + i))) << key;
    }
  }
}

TEST_P(ObjectStoreContract, ConcurrentNoOverwritePutsOfOneKeyHaveOneWinner) {
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      results[size_t(t)] = store_->PutBytes("race/obj", Pattern(200000, uint32_t(t)));
    });
  }
  for (auto& th : threads) th.join();
  int winner = -1;
  for (int t = 0; t < kThreads; t++) {
    const Status& s = results[size_t(t)];
    if (s.ok()) {
      EXPECT_EQ(winner, -1) << "two puts succeeded";
      winner = t;
    } else {
      EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
    }
  }
  ASSERT_NE(winner, -1);
  EXPECT_EQ(Get("race/obj"), Pattern(200000, uint32_t(winner)));
  EXPECT_EQ(ListKeys(""), std::vector<std::string>{"race/obj"});
}

TEST_P(ObjectStoreContract, MissingKeyIsNotFound) {
  ExpectNotFound("missing");
  ExpectNotFound("missing/deeper/key");
  EXPECT_EQ(store_->Open("missing", 10, 5).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetBytes("missing").status().code(), Code::kNotFound);
  EXPECT_TRUE(ListKeys("missing").empty());
  Put("file", "x");
  ExpectNotFound("file/below");  // a key below an existing object's name
  ExpectNotFound("fil");
  Put("dir/obj", "x");
  ExpectNotFound("dir");  // a key that only prefixes others
}

std::string BackendName(const ::testing::TestParamInfo<BackendFactory*>& info) { return info.param->Name(); }

INSTANTIATE_TEST_SUITE_P(Backends, ObjectStoreContract, ::testing::ValuesIn(AllBackends()), BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, Populated, ::testing::ValuesIn(AllBackends()), BackendName);

}  // namespace
}  // namespace walship::contract
