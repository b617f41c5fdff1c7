#pragma once
// Backends the storage contract suite runs against. Adding a backend (e.g.
// S3 against an emulator) means writing one BackendFactory and listing it in
// AllBackends() (backends.cc); every contract case then runs on it.

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/object_store.h"

namespace walship::contract {

class BackendFactory {
 public:
  virtual ~BackendFactory() = default;

  // Test-name suffix: letters and digits only ("Mem", "File", "S3").
  virtual std::string Name() const = 0;

  // Whether List reports the Put timestamp as mtime_ms (file, mem) or only
  // the server's modification time (S3: LastModified; Head has the timestamp).
  virtual bool ListReportsTimestamps() const { return true; }

  // Whether the store copies objects server-side (ObjectStore::Copy); a
  // backend without it must answer kUnimplemented.
  virtual bool HasServerSideCopy() const { return true; }

  // Once per process, before the first test on this backend (e.g. start an
  // emulator). kFailedPrecondition skips this backend's tests with the
  // message (the tool is not installed here); any other error fails them.
  virtual Status SetUp() { return Status::OK(); }
  // Once at the end of the run, if SetUp succeeded (e.g. stop the emulator).
  virtual void TearDown() {}

  // A fresh, empty store for one test (a new temp dir, bucket or prefix).
  virtual Result<std::shared_ptr<storage::ObjectStore>> NewStore() = 0;
  // Releases what the last NewStore made. Called after the test drops the store.
  virtual void DestroyStore() {}
};

// Owned by the registry; alive for the whole process.
const std::vector<BackendFactory*>& AllBackends();

}  // namespace walship::contract
