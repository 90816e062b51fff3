#include "gguf/dequantize.h"
