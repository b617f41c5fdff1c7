#include <stdlib.h>

#include <cstdlib>

#include "backend.h"
#include "base/file.h"
#include "storage/file_store.h"
#include "storage/mem_store.h"

namespace walship::contract {
namespace {

class MemBackend final : public BackendFactory {
 public:
  std::string Name() const override { return "Mem"; }
  Result<std::shared_ptr<storage::ObjectStore>> NewStore() override {
    return std::shared_ptr<storage::ObjectStore>(std::make_shared<storage::MemStore>());
  }
};

// Each test gets its own directory under $TMPDIR (or /tmp), removed afterwards.
class FileBackend final : public BackendFactory {
 public:
  std::string Name() const override { return "File"; }

  Result<std::shared_ptr<storage::ObjectStore>> NewStore() override {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/walship-contract-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp", tmpl, errno);
    dir_ = tmpl;
    // A subdirectory that does not exist yet: Create must make it.
    WALSHIP_ASSIGN_OR_RETURN(auto store, storage::FileStore::Create(dir_ + "/replica"));
    return std::shared_ptr<storage::ObjectStore>(std::move(store));
  }

  void DestroyStore() override {
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
    dir_.clear();
  }

 private:
  std::string dir_;
};

}  // namespace

const std::vector<BackendFactory*>& AllBackends() {
  static MemBackend mem;
  static FileBackend file;
  // S3 (against an emulator) joins here when the S3 backend is built.
  static const std::vector<BackendFactory*> backends = {&mem, &file};
  return backends;
}

}  // namespace walship::contract
