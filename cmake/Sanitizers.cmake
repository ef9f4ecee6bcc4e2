# AIF_SANITIZE=ON: ASan + UBSan for the debug preset. Applied globally so that
# every project target and test is instrumented the same way.
if(AIF_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
