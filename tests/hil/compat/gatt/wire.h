/* tests/hil/vm/probe.c still includes "gatt/wire.h" from before the record
 * codecs moved to codec/. This forwards it until probe.c names codec/wire.h;
 * then this directory goes. Only probe.o is built with it on the path. */
#pragma once

#include "codec/wire.h"
