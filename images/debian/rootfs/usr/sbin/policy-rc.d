#!/bin/sh
# Services must not start while packages install during an image build.
exit 101
