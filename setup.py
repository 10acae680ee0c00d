"""Builds bufsan's native parts with CMake for the interpreter running the
build (its core bufsan_core-X.Y.so, the loader libbufsan.so, bufsan-tool,
bufsan-report) and puts them, with the launcher, into the package as
bufsan/_lib, where bufsan.libdir() finds them. Metadata: pyproject.toml."""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = os.path.dirname(os.path.abspath(__file__))


class build_native(build_py):
    def run(self):
        super().run()
        out = os.path.join(self.build_lib, "bufsan", "_lib")
        build = os.path.join(ROOT, "build", "pip", "cmake-" + "%d.%d%s" % (
            sys.version_info[0], sys.version_info[1], sys.abiflags))
        cmake = shutil.which("cmake")
        if not cmake:
            raise SystemExit("bufsan: cmake is needed to build the native parts "
                             "(Debian: apt-get install cmake gcc pkg-config libunwind-dev "
                             "libdw-dev libxxhash-dev python3-dev)")
        subprocess.check_call([cmake, "-S", ROOT, "-B", build, "-DBUFSAN_TESTS=OFF",
                               "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                               "-DBUFSAN_PYTHONS=" + sys.executable])
        subprocess.check_call([cmake, "--build", build, "-j", str(os.cpu_count() or 1),
                               "--target", "bufsan", "bufsan-tool", "bufsan-report"] +
                              ["bufsan_core-%d.%d%s" % (sys.version_info[0], sys.version_info[1],
                                                        sys.abiflags)])
        os.makedirs(out, exist_ok=True)
        lib = os.path.join(build, "lib")
        names = ["libbufsan.so", "bufsan-tool", "bufsan-report"] + \
            [os.path.basename(p) for p in glob.glob(os.path.join(lib, "bufsan_core-*.so"))]
        for name in names:
            shutil.copy2(os.path.join(lib, name), os.path.join(out, name))
        shutil.copy2(os.path.join(ROOT, "scripts", "bufsan"), os.path.join(out, "bufsan"))
        os.chmod(os.path.join(out, "bufsan"), 0o755)


class BinaryDistribution(Distribution):
    """The wheel holds native code: tagged for this platform and Python."""

    def has_ext_modules(self):
        return True


# build/ is CMake's; setuptools gets a folder of its own in it
setup(cmdclass={"build_py": build_native}, distclass=BinaryDistribution,
      options={"build": {"build_base": os.path.join("build", "pip")},
               "egg_info": {"egg_base": os.path.join("build", "pip")}})
