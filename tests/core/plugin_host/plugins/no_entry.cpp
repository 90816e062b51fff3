// A shared library with no Compass entry symbol.
extern "C" __attribute__((visibility("default"))) int not_a_plugin(void) {
  return 1;
}
