"""Deprecated: the old home of the shared trainer code, kept so third-party trainers written
against ``luacoder_train.common.*`` keep importing. Each old module name is now an alias of the
module that does the job:

=========================  =====================================
old                        new
=========================  =====================================
``common.base``            ``luacoder_train.trainers.base``
``common.runtime``         ``luacoder_train.trainers.runtime``
``common.pipeline``        ``luacoder_train.pipeline``
``common.config``          ``luacoder_train.recipe.config``
``common.data``            ``luacoder_train.data.loading``
``common.masking``         ``luacoder_train.data.masking``
``common.packing``         ``luacoder_train.data.packing``
``common.checkpoints``     ``luacoder_train.outputs.checkpoints``
=========================  =====================================
"""
