#include "plugin_host/elf_check.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace compass {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
constexpr char kMachineName[] = "x86-64";
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
constexpr char kMachineName[] = "aarch64";
#else
constexpr uint16_t kMachine = EM_NONE;  // not checked
constexpr char kMachineName[] = "this machine";
#endif

std::string MachineName(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    default: return "machine " + std::to_string(machine);
  }
}

Status Truncated(uint64_t size, uint64_t needed, const std::string& what) {
  return InvalidArgument("truncated: the file is " + std::to_string(size) + " bytes but its " +
                         what + " end at byte " + std::to_string(needed) +
                         " (an interrupted copy or build?); rebuild or reinstall it");
}

// a + b, or UINT64_MAX when it overflows (then never inside the file).
uint64_t End(uint64_t offset, uint64_t length) {
  return offset > UINT64_MAX - length ? UINT64_MAX : offset + length;
}

}  // namespace

Status CheckSharedObject(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return IoError("cannot read " + path + ": " + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  Elf64_Ehdr h{};
  if (size < EI_NIDENT || !in.read(reinterpret_cast<char*>(&h), EI_NIDENT) ||
      std::memcmp(h.e_ident, ELFMAG, SELFMAG) != 0) {
    return InvalidArgument("not an ELF shared library");
  }
  if (h.e_ident[EI_CLASS] != ELFCLASS64) {
    return InvalidArgument("a 32-bit ELF file; Compass loads 64-bit plugins only");
  }
  if (size < sizeof(Elf64_Ehdr)) return Truncated(size, sizeof(Elf64_Ehdr), "ELF header");
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(&h), sizeof h)) {
    return IoError("cannot read the ELF header of " + path);
  }
  if (h.e_ident[EI_DATA] != ELFDATA2LSB) return InvalidArgument("a big-endian ELF file");
  if (h.e_type != ET_DYN) return InvalidArgument("an ELF file that is not a shared library");
  if (kMachine != EM_NONE && h.e_machine != kMachine) {
    return InvalidArgument("built for " + MachineName(h.e_machine) + ", not " + kMachineName +
                           "; rebuild it for this machine");
  }
  if (h.e_phentsize != sizeof(Elf64_Phdr) || h.e_phnum == 0) {
    return InvalidArgument("an ELF file without valid program headers");
  }
  const uint64_t ph_end = End(h.e_phoff, uint64_t{h.e_phnum} * h.e_phentsize);
  if (ph_end > size) return Truncated(size, ph_end, "program headers");
  if (h.e_shoff != 0) {
    const uint64_t sh_end = End(h.e_shoff, uint64_t{h.e_shnum} * h.e_shentsize);
    if (sh_end > size) return Truncated(size, sh_end, "section headers");
  }
  std::vector<Elf64_Phdr> phdrs(h.e_phnum);
  in.seekg(static_cast<std::streamoff>(h.e_phoff));
  if (!in.read(reinterpret_cast<char*>(phdrs.data()),
               static_cast<std::streamsize>(phdrs.size() * sizeof(Elf64_Phdr)))) {
    return IoError("cannot read the program headers of " + path);
  }
  for (const Elf64_Phdr& p : phdrs) {
    if (p.p_type != PT_LOAD && p.p_type != PT_DYNAMIC && p.p_type != PT_INTERP) continue;
    const uint64_t end = End(p.p_offset, p.p_filesz);
    if (end > size) {
      return Truncated(size, end, p.p_type == PT_LOAD ? "loadable segments" : "dynamic section");
    }
  }
  return Status::Ok();
}

}  // namespace compass
