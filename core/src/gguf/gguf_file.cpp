#include "gguf/gguf_file.h"
// Being written.
