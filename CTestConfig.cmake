# Submission of test results to a CDash dashboard.
#
#   ctest -D Experimental            # configure, build, test, submit
#   ctest -M Experimental -T Submit  # submit an existing run
#
# Site and project come from the environment or cache variables, so CI can
# point at any CDash instance without editing this file:
#   MS_CDASH_SITE     host of the CDash server   (default: my.cdash.org)
#   MS_CDASH_PROJECT  CDash project name         (default: ModelStoreBench)
#   MS_CDASH_SCHEME   http or https              (default: https)
# The build name shown on the dashboard is CTEST_BUILD_NAME / BUILDNAME
# (set by `./run dashboard`), and the site name is SITE.
if(DEFINED ENV{MS_CDASH_SITE})
  set(MS_CDASH_SITE "$ENV{MS_CDASH_SITE}")
elseif(NOT DEFINED MS_CDASH_SITE)
  set(MS_CDASH_SITE "my.cdash.org")
endif()
if(DEFINED ENV{MS_CDASH_PROJECT})
  set(MS_CDASH_PROJECT "$ENV{MS_CDASH_PROJECT}")
elseif(NOT DEFINED MS_CDASH_PROJECT)
  set(MS_CDASH_PROJECT "ModelStoreBench")
endif()
if(DEFINED ENV{MS_CDASH_SCHEME})
  set(MS_CDASH_SCHEME "$ENV{MS_CDASH_SCHEME}")
elseif(NOT DEFINED MS_CDASH_SCHEME)
  set(MS_CDASH_SCHEME "https")
endif()

set(CTEST_PROJECT_NAME "${MS_CDASH_PROJECT}")
set(CTEST_NIGHTLY_START_TIME "01:00:00 UTC")
set(CTEST_SUBMIT_URL "${MS_CDASH_SCHEME}://${MS_CDASH_SITE}/submit.php?project=${MS_CDASH_PROJECT}")
set(CTEST_DROP_SITE_CDASH TRUE)
