// Runs LLVMFuzzerTestOneInput over every file of the given corpus directories
// (or files), so the fuzz corpus also runs as a plain ctest without libFuzzer.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  try {
    std::vector<fs::path> files;
    for (int i = 1; i < argc; i++) {
      if (fs::is_directory(argv[i])) {
        for (const auto& e : fs::directory_iterator(argv[i])) {
          if (e.is_regular_file()) files.push_back(e.path());
        }
      } else {
        files.emplace_back(argv[i]);
      }
    }
    if (files.empty()) {
      std::fprintf(stderr, "no corpus files given\n");
      return 1;
    }
    for (const fs::path& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", f.c_str());
        return 1;
      }
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("ran %zu corpus inputs\n", files.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
